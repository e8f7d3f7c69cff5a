/**
 * Mail is queued in the database and sent by a worker in each replica, with retries
 * and exponential backoff: a restart or an SMTP outage loses nothing. Each message
 * is claimed by one replica; one that dies while sending leaves the claim to go
 * stale, and another replica sends the message within SEND_LEASE_MS. The message
 * keeps its Message-ID, so a receiver can tell the rare resend of a message the
 * dead replica had handed over just before it died.
 */
import type { Clock } from '../clock.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import type { Store } from '../store/types.js';
import type { SendMail } from './transport.js';

const MAX_ATTEMPTS = 12;
const FIRST_RETRY_MS = 2_000;
const MAX_RETRY_MS = 30 * 60_000;
/** A claim older than this belongs to a replica that died: the transport gives up well before (transport.ts). */
export const SEND_LEASE_MS = 30_000;

export interface Mail {
  to: string;
  subject: string;
  text: string;
  html: string;
}

export class MailQueue {
  #timer?: NodeJS.Timeout;
  #running?: Promise<void>;

  constructor(
    private readonly deps: { store: Store; send: SendMail; clock: Clock; log: Logger; metrics: Metrics; domain: string },
  ) {}

  async enqueue(mail: Mail): Promise<void> {
    await this.deps.store.enqueueMail({ recipient: mail.to, subject: mail.subject, text: mail.text, html: mail.html, now: this.deps.clock.now() });
    this.kick();
  }

  async start(intervalMs = 1_000): Promise<void> {
    this.#timer = setInterval(() => this.kick(), intervalMs);
    this.#timer.unref();
    this.kick();
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.#running;
  }

  /** Sends whatever is due, one worker at a time in this process. */
  kick(): void {
    this.#running ??= this.drain()
      .catch((error: unknown) => this.deps.log.error('mail_worker_failed', { error: String(error) }))
      .finally(() => (this.#running = undefined));
  }

  async drain(): Promise<void> {
    const { store, send, clock, log, metrics, domain } = this.deps;
    for (;;) {
      const now = clock.now();
      const mail = await store.claimMail(now, now - SEND_LEASE_MS);
      if (!mail) break;
      try {
        await send({ to: mail.recipient, subject: mail.subject, text: mail.text, html: mail.html, messageId: `<mail-${mail.id}@${domain}>` });
        await store.markMailSent(mail.id, clock.now());
        metrics.mailSent.inc();
      } catch (error) {
        const reason = error instanceof Error ? error.message : String(error);
        if (mail.attempts >= MAX_ATTEMPTS) {
          await store.failMail(mail.id, reason);
          metrics.mailFailed.inc();
          log.error('mail_failed', { id: mail.id, attempts: mail.attempts, error: reason });
        } else {
          const delay = Math.min(FIRST_RETRY_MS * 2 ** (mail.attempts - 1), MAX_RETRY_MS);
          await store.retryMail(mail.id, reason, clock.now() + delay);
          log.warn('mail_retry', { id: mail.id, attempts: mail.attempts, retry_in_ms: delay, error: reason });
        }
        break; // the server is likely down: wait for the next tick rather than burning through the queue
      }
    }
    metrics.mailQueueDepth.set(await store.mailQueueDepth());
  }
}
