/** Administrators' view of sessions (SPEC section 11): every live one, and ending any of them. */
import type { Cause } from '../audit.js';
import { fail } from '../errors.js';
import type { Scope } from '../scope.js';
import type { Services } from '../services.js';
import type { ListedSession, SessionQuery, User } from '../store/types.js';
import { adminCause, sessionJson } from './admin-common.js';
import { decodeCursor, pageLimit, pageOf, queryParam } from './paging.js';

/** A place in the list of sessions (newest first, then by id): the last one a page showed. */
type Position = NonNullable<SessionQuery['after']>;

const positionText = ({ createdAt, id }: Position) => `${createdAt}.${id}`;
const POSITION = /^(\d{1,16})\.([A-Za-z0-9_-]{1,128})$/;

function readPosition(text: string): Position | undefined {
  const match = POSITION.exec(text);
  return match ? { createdAt: Number(match[1]), id: match[2]! } : undefined;
}

/** Live sessions, of everyone or of one user, newest first: `limit` of them, after `after`. */
export function liveSessions(
  { store, clock, config }: Pick<Services, 'store' | 'clock' | 'config'>,
  query: { userId?: string; limit: number; after?: Position },
): Promise<ListedSession[]> {
  const now = clock.now();
  return store.listSessions({ ...query, usedSince: now - config.idle_timeout, createdSince: now - config.session_lifetime });
}

/** GET /_auth/admin/sessions?user=&limit=&cursor= */
export async function listSessions(scope: Scope): Promise<void> {
  const params = scope.url.searchParams;
  const limit = pageLimit(queryParam(params, 'limit'));
  const after = decodeCursor(queryParam(params, 'cursor'), readPosition);
  const userId = queryParam(params, 'user');
  if (userId !== undefined && !(userId.length <= 128 && (await scope.services.store.findUserById(userId)))) throw fail('user_not_found');
  const rows = await liveSessions(scope.services, { userId, limit: limit + 1, after });
  const { items, next_cursor } = pageOf(rows, limit, positionText);
  scope.json(200, { sessions: items.map((s) => sessionJson(s, { id: s.userId, username: s.username })), next_cursor });
}

/** DELETE /_auth/admin/sessions/{id}: ends it here at once, elsewhere within trust_window (and its WebSockets with it). */
export async function revokeSession(scope: Scope): Promise<void> {
  const ended = await endSession(scope.services, scope.params['id']!, adminCause(scope));
  if (!ended) throw fail('session_not_found');
  scope.empty(204);
}

/** Ends a live session for an administrator or the CLI, audited; false when there is no such live session. */
export async function endSession(services: Services, id: string, { actor, address }: Cause): Promise<boolean> {
  const session = id.length <= 128 ? await services.store.findSession(id) : undefined;
  if (!session || session.revokedAt !== null) return false;
  const user = await services.store.findUserById(session.userId);
  await services.sessions.end(id, 'admin_revoked');
  await services.audit.record({ type: 'session_revoked', user: user && { id: user.id, username: user.username }, actor, address, details: { session_id: id } });
  return true;
}

/** Ends every live session of the user for an administrator or the CLI, audited; how many ended. */
export async function endAllSessions(services: Services, user: User, { actor, address }: Cause): Promise<number> {
  const ended = await services.sessions.endAllOfUser(user.id, 'admin_revoked');
  await services.audit.record({ type: 'sessions_revoked', user: { id: user.id, username: user.username }, actor, address, details: { count: ended } });
  return ended;
}
