/** GET /_auth/admin/audit: the audit log for administrators, newest first, in keyset pages (SPEC section 11). */
import { parseSince } from '../audit.js';
import { fail } from '../errors.js';
import type { Scope } from '../scope.js';
import type { AuditQuery, StoredAuditEvent } from '../store/types.js';

const DEFAULT_LIMIT = 50;
const MAX_LIMIT = 200;
const TYPE = /^[a-z0-9_]{1,64}$/;

/** An event as the API and the CLI show it. */
export function auditEventJson(e: StoredAuditEvent) {
  const actor = e.actorKind === 'user' || e.actorKind === 'admin' ? { kind: e.actorKind, id: e.actorId, username: e.actorUsername } : { kind: e.actorKind };
  return {
    id: e.id,
    at: new Date(e.at).toISOString(),
    type: e.type,
    user: e.userId === null ? null : { id: e.userId, username: e.username },
    actor,
    address: e.address,
    details: e.details,
  };
}

/** The cursor of the page after `last`: opaque to clients, the id of the last event they saw. */
const cursorAfter = (last: StoredAuditEvent) => Buffer.from(String(last.id)).toString('base64url');

function cursorId(cursor: string): number {
  const id = /^[A-Za-z0-9_-]{1,24}$/.test(cursor) ? Buffer.from(cursor, 'base64url').toString() : '';
  if (!/^[1-9]\d{0,14}$/.test(id)) throw fail('invalid_field', 'The cursor is not one this API gave.');
  return Number(id);
}

/** The query's filters; 400 invalid_field for any malformed one. */
export function auditQuery(params: URLSearchParams, now: number): AuditQuery {
  const get = (name: string) => params.get(name) ?? undefined;
  const [user, type, since, limit, cursor] = ['user', 'type', 'since', 'limit', 'cursor'].map(get);
  if (user !== undefined && (user.length === 0 || user.length > 128)) throw fail('invalid_field', 'user is the id of a user.');
  if (type !== undefined && !TYPE.test(type)) throw fail('invalid_field', 'type is an event type such as login_failed.');
  const sinceAt = since === undefined ? undefined : parseSince(since, now);
  if (since !== undefined && sinceAt === undefined) throw fail('invalid_field', 'since is a duration (1h, 7d) or an ISO 8601 time.');
  if (limit !== undefined && !(/^\d{1,3}$/.test(limit) && Number(limit) >= 1 && Number(limit) <= MAX_LIMIT)) {
    throw fail('invalid_field', `limit is a whole number from 1 to ${MAX_LIMIT}.`);
  }
  return {
    userId: user,
    type,
    since: sinceAt,
    before: cursor === undefined ? undefined : cursorId(cursor),
    limit: limit === undefined ? DEFAULT_LIMIT : Number(limit),
  };
}

export async function listAuditEvents(scope: Scope): Promise<void> {
  const query = auditQuery(scope.url.searchParams, scope.services.clock.now());
  // One more than asked: whether another page follows, without a second query.
  const found = await scope.services.store.listAuditEvents({ ...query, limit: query.limit + 1 });
  const page = found.slice(0, query.limit);
  const nextCursor = found.length > query.limit ? cursorAfter(page.at(-1)!) : null;
  scope.json(200, { events: page.map(auditEventJson), next_cursor: nextCursor });
}
