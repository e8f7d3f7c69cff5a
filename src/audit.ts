/**
 * The audit log: who did what to whom, from where (SPEC section 11). Every event is
 * a JSON log line marked `audit: true`; the store keeps them too, for `gatehouse audit`
 * and GET /_auth/admin/audit.
 */
import type { Logger } from './log.js';

/** Who caused an event: the user themself, an administrator, the command line, or gatehouse on its own. */
export type Actor = { kind: 'user' | 'admin'; id: string; username: string } | { kind: 'cli' } | { kind: 'system' };

export const CLI_ACTOR: Actor = { kind: 'cli' };
export const SYSTEM_ACTOR: Actor = { kind: 'system' };

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

export class AuditLog {
  constructor(private readonly log: Logger) {}

  record(event: AuditEvent): void {
    const { type, user, actor, address, details, level = 'info' } = event;
    this.log[level](type, { ...details, user_id: user?.id, username: user?.username, actor: actorName(actor), address, audit: true });
  }
}

/** The actor as one word for a log line: a username, `cli` or `system`. */
export const actorName = (actor: Actor) => ('username' in actor ? actor.username : actor.kind);
