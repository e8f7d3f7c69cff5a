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

/**
 * Every send is over, done or failed, well inside the queue's claim lease (30 s):
 * a live replica's claim must never look like a dead one's.
 */
const SEND_DEADLINE_MS = 20_000;

function withDeadline<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the SMTP server took more than ${ms / 1000} s`)), ms);
  });
  return Promise.race([work, late]).finally(() => clearTimeout(timer));
}

export function createTransport(smtpUrl: string | undefined, from: string, log: Logger): SendMail {
  if (!smtpUrl) {
    return async (mail) => log.info('mail_logged', { to: mail.to, subject: mail.subject, text: mail.text });
  }
  // Loaded on the first mail. smtps:// is TLS from the start; smtp:// upgrades with STARTTLS when offered.
  let transport: Promise<{ sendMail(message: object): Promise<unknown> }> | undefined;
  return async (mail) => {
    transport ??= import('nodemailer').then(({ default: nodemailer }) =>
      nodemailer.createTransport({ url: smtpUrl, connectionTimeout: 5_000, greetingTimeout: 5_000, socketTimeout: 10_000 } as never),
    );
    const sending = (await transport).sendMail({ from, to: mail.to, subject: mail.subject, text: mail.text, html: mail.html, messageId: mail.messageId });
    await withDeadline(sending, SEND_DEADLINE_MS);
  };
}
