/**
 * The audit log: who did what to whom, from where (SPEC section 11). Every event is
 * a JSON log line marked `audit: true`; the store keeps them too, for `gatehouse audit`
 * and GET /_auth/admin/audit.
 *
 * Durability. The log line is written at once, before anything can fail. The row is
 * written by the promise `record` returns:
 * - an administrative or account-changing action awaits it before it answers, so an
 *   acknowledged change is never missing from the table (a failed write fails the answer
 *   with the store's error, 503 when the database is away, like the action itself would);
 * - hot events (failed sign-ins, on a path an attacker can drive) are not awaited: the
 *   answer does not wait on a second write. Such a write can still fail or be cut short
 *   by a crash; it is then never lost silently: the log line already holds the event,
 *   a failure is logged (`audit_write_failed`) and counted
 *   (gatehouse_audit_write_failures_total), and shutdown waits for writes in flight.
 * Unawaited writes in flight are capped: past the cap an event is not written but
 * counted and logged the same way, so a flood cannot queue writes without bound.
 */
import type { Logger } from './log.js';
import type { Metrics } from './metrics.js';
import type { Clock } from './clock.js';
import type { Store } from './store/types.js';
import { parseDuration } from './config-values.js';

/** Who caused an event: the user themself, an administrator, the command line, or gatehouse on its own. */
export type Actor = { kind: 'user' | 'admin'; id: string; username: string } | { kind: 'cli' } | { kind: 'system' };

export const CLI_ACTOR: Actor = { kind: 'cli' };
export const SYSTEM_ACTOR: Actor = { kind: 'system' };

/** The user acting on their own account. */
export const selfActor = (user: { id: string; username: string }): Actor => ({ kind: 'user', id: user.id, username: user.username });

/** Who caused a change, and from where: what the domain code passes down for its audit event. */
export interface Cause {
  actor: Actor;
  address?: string;
}

export interface AuditEvent {
  /** What happened, in snake_case: login_failed, user_disabled, group_added, … */
  type: string;
  /** Whom it concerns, when anyone. */
  user?: { id: string; username: string };
  actor: Actor;
  /** The client address of the request behind it. */
  address?: string;
  /** Anything else worth keeping (a reason, a group); never a secret. */
  details?: Record<string, unknown>;
  level?: 'info' | 'warn';
}

/** Unawaited writes in flight beyond which events are only logged (and counted as failed). */
const MAX_IN_FLIGHT = 1_000;

export class AuditLog {
  #inFlight = new Set<Promise<void>>();

  constructor(
    private readonly log: Logger,
    private readonly store?: Pick<Store, 'appendAuditEvent'>,
    private readonly clock?: Clock,
    private readonly metrics?: Pick<Metrics, 'auditWriteFailures'>,
  ) {}

  /** Logs the event at once and stores it; await the answer for an event that must be stored before a reply. */
  record(event: AuditEvent): Promise<void> {
    const { type, user, actor, address, details = {}, level = 'info' } = event;
    this.log[level](type, { ...details, user_id: user?.id, username: user?.username, actor: actorName(actor), address, audit: true });
    if (!this.store) return Promise.resolve();
    if (this.#inFlight.size >= MAX_IN_FLIGHT) return this.#failed(type, new Error('too many audit writes in flight'));
    const written = this.store
      .appendAuditEvent({
        at: this.clock?.now() ?? Date.now(),
        type,
        userId: user?.id ?? null,
        username: user?.username ?? null,
        actorKind: actor.kind,
        actorId: 'id' in actor ? actor.id : null,
        actorUsername: 'username' in actor ? actor.username : null,
        address: address ?? null,
        details,
      })
      .catch((error: unknown) => this.#failed(type, error))
      .finally(() => this.#inFlight.delete(written));
    this.#inFlight.add(written);
    // Handled here, so a caller that does not await cannot crash the process; one that awaits still sees the failure.
    written.catch(() => {});
    return written;
  }

  /** Waits for the writes in flight (shutdown: a drained instance loses no event). */
  async flush(): Promise<void> {
    await Promise.allSettled([...this.#inFlight]);
  }

  #failed(type: string, error: unknown): Promise<never> {
    this.metrics?.auditWriteFailures.inc();
    this.log.error('audit_write_failed', { type, error: String(error) });
    const failed = Promise.reject(error);
    failed.catch(() => {});
    return failed;
  }
}

/** The actor as one word for a log line: a username, `cli` or `system`. */
export const actorName = (actor: Actor) => ('username' in actor ? actor.username : actor.kind);

const ISO_TIME = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})?)?$/;

/**
 * `since` of `gatehouse audit` and GET /_auth/admin/audit: a duration back from `now`
 * (30m, 1h, 7d) or an ISO 8601 time; undefined when it is neither.
 */
export function parseSince(value: string, now: number): number | undefined {
  if (ISO_TIME.test(value)) {
    const at = Date.parse(value);
    return Number.isNaN(at) ? undefined : at;
  }
  try {
    return now - parseDuration(value);
  } catch {
    return undefined;
  }
}
