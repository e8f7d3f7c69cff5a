/** GET /_auth/admin/audit: the audit log for administrators, newest first, in keyset pages (SPEC section 11). */
import { parseSince } from '../audit.js';
import { fail } from '../errors.js';
import type { Scope } from '../scope.js';
import type { AuditQuery, StoredAuditEvent } from '../store/types.js';
import { decodeCursor, pageLimit, pageOf, queryParam } from './paging.js';

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

/** A position in the log: the id of the last event a page showed. */
const eventId = (text: string) => (/^[1-9]\d{0,14}$/.test(text) ? Number(text) : undefined);

/** The query's filters; 400 invalid_field for any malformed one. */
export function auditQuery(params: URLSearchParams, now: number): AuditQuery {
  const [user, type, since] = ['user', 'type', 'since'].map((name) => queryParam(params, name));
  if (user !== undefined && user.length > 128) throw fail('invalid_field', 'user is the id of a user.');
  if (type !== undefined && !TYPE.test(type)) throw fail('invalid_field', 'type is an event type such as login_failed.');
  const sinceAt = since === undefined ? undefined : parseSince(since, now);
  if (since !== undefined && sinceAt === undefined) throw fail('invalid_field', 'since is a duration (1h, 7d) or an ISO 8601 time.');
  return {
    userId: user,
    type,
    since: sinceAt,
    before: decodeCursor(queryParam(params, 'cursor'), eventId),
    limit: pageLimit(queryParam(params, 'limit')),
  };
}

export async function listAuditEvents(scope: Scope): Promise<void> {
  const query = auditQuery(scope.url.searchParams, scope.services.clock.now());
  // One more than asked: whether another page follows, without a second query.
  const found = await scope.services.store.listAuditEvents({ ...query, limit: query.limit + 1 });
  const { items, next_cursor } = pageOf(found, query.limit, (last) => String(last.id));
  scope.json(200, { events: items.map(auditEventJson), next_cursor });
}
