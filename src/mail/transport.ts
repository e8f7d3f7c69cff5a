/** The only module that uses nodemailer: SMTP when configured, the log otherwise (development). */
import type { Logger } from '../log.js';

export interface OutgoingMail {
  to: string;
  subject: string;
  text: string;
  html: string;
  /** Stable per queued message, so a receiving system can spot a duplicate. */
  messageId: string;
}

export type SendMail = (mail: OutgoingMail) => Promise<void>;

export function createTransport(smtpUrl: string | undefined, from: string, log: Logger): SendMail {
  if (!smtpUrl) {
    return async (mail) => log.info('mail_logged', { to: mail.to, subject: mail.subject, text: mail.text });
  }
  // Loaded on the first mail. smtps:// is TLS from the start; smtp:// upgrades with STARTTLS when offered.
  let transport: Promise<{ sendMail(message: object): Promise<unknown> }> | undefined;
  return async (mail) => {
    transport ??= import('nodemailer').then(({ default: nodemailer }) =>
      nodemailer.createTransport({ url: smtpUrl, connectionTimeout: 10_000, greetingTimeout: 10_000, socketTimeout: 30_000 } as never),
    );
    await (await transport).sendMail({ from, to: mail.to, subject: mail.subject, text: mail.text, html: mail.html, messageId: mail.messageId });
  };
}
