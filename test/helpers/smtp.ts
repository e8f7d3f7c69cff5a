/**
 * A real SMTP server for the tests (npm smtp-server) that keeps every message it
 * receives. STARTTLS is not offered: the package's bundled certificate has
 * expired, and a client that sees no STARTTLS sends in the clear.
 */
import { createServer } from 'node:net';
import { SMTPServer } from 'smtp-server';

export interface ReceivedMail {
  /** Envelope recipients (RCPT TO). */
  to: string[];
  subject: string;
  messageId: string;
  /** Everything after the header block, quoted-printable soft breaks undone and `=3D` decoded. */
  body: string;
  raw: string;
}

export interface SmtpSink {
  port: number;
  /** What gatehouse's `smtp_url` should be. */
  url: string;
  messages: ReceivedMail[];
  /** The first message (already received or still to come) that matches; rejects after `timeoutMs`. */
  waitFor(predicate: (mail: ReceivedMail) => boolean, timeoutMs?: number): Promise<ReceivedMail>;
  /** Resolves once at least `count` received messages match, with all of them so far. */
  waitForAll(predicate: (mail: ReceivedMail) => boolean, count: number, timeoutMs?: number): Promise<ReceivedMail[]>;
  close(): Promise<void>;
}

/** A loopback port that nothing listens on (yet). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Starts the sink on 127.0.0.1, on `port` when given (an SMTP server that comes back up), else a free one. */
export async function startSmtpSink(port = 0): Promise<SmtpSink> {
  const messages: ReceivedMail[] = [];
  const waiters = new Set<() => void>();
  const server = new SMTPServer({
    disabledCommands: ['STARTTLS'],
    authOptional: true,
    logger: false,
    closeTimeout: 1_000,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        messages.push(parseMail(Buffer.concat(chunks).toString('utf8'), session.envelope.rcptTo.map((rcpt) => rcpt.address)));
        waiters.forEach((wake) => wake());
        callback();
      });
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      // A client that hangs up mid-session is reported here; it must not crash the test run.
      server.on('error', () => {});
      resolve();
    });
  });
  const bound = (server.server.address() as { port: number }).port;

  function until(predicate: (mail: ReceivedMail) => boolean, count: number, timeoutMs = 5_000): Promise<ReceivedMail[]> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const found = messages.filter(predicate);
        if (found.length < count) return;
        done();
        resolve(found);
      };
      const timer = setTimeout(() => {
        done();
        const seen = messages.map((m) => `${m.to.join(',')} "${m.subject}"`).join('; ') || 'nothing';
        reject(new Error(`fewer than ${count} matching mails within ${timeoutMs} ms; received: ${seen}`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        waiters.delete(check);
      };
      waiters.add(check);
      check();
    });
  }
  return {
    port: bound,
    url: `smtp://127.0.0.1:${bound}`,
    messages,
    waitFor: async (predicate, timeoutMs) => (await until(predicate, 1, timeoutMs))[0]!,
    waitForAll: (predicate, count, timeoutMs) => until(predicate, count, timeoutMs),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

function parseMail(raw: string, to: string[]): ReceivedMail {
  const split = raw.indexOf('\r\n\r\n');
  // Folded header lines continue with whitespace: unfold before reading them.
  const head = raw.slice(0, split).replace(/\r\n[ \t]+/g, ' ');
  const header = (name: string) => new RegExp(`^${name}:[ \\t]*(.*)$`, 'im').exec(head)?.[1]?.trim() ?? '';
  const body = raw
    .slice(split + 4)
    .replace(/=\r\n/g, '')
    .replace(/=3D/gi, '=');
  return { to, subject: header('Subject'), messageId: header('Message-ID'), body, raw };
}

/** The token of the first link to `path` (for example `/_auth/password/reset`) in a mail, and the whole link. */
export function linkIn(mail: ReceivedMail, path: string, publicUrl = 'http://localhost:4180'): { url: string; token: string } {
  const escaped = `${publicUrl}${path}`.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  const match = new RegExp(`${escaped}\\?token=([A-Za-z0-9_-]+)`).exec(mail.body);
  if (!match) throw new Error(`no ${path} link in the mail "${mail.subject}":\n${mail.body}`);
  return { url: match[0], token: match[1]! };
}
