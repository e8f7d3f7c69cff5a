/** Administrators' view of sessions (SPEC section 11): every live one, and ending any of them. */
import type { Actor } from '../audit.js';
import { UNKNOWN_DEVICE } from '../auth/devices.js';
import { clientAddress } from '../auth/forwarded.js';
import { fail } from '../errors.js';
import type { Scope } from '../scope.js';
import type { Services } from '../services.js';
import type { ListedSession, User } from '../store/types.js';
import { decodeCursor, encodeCursor, pageLimit, type Position } from './paging.js';

/** A session as every admin answer shows it. */
export const sessionJson = (s: ListedSession) => ({
  id: s.id,
  user: { id: s.userId, username: s.username },
  device: s.device ?? UNKNOWN_DEVICE,
  address: s.address,
  created_at: new Date(s.createdAt).toISOString(),
  last_used_at: new Date(s.lastUsedAt).toISOString(),
});

/** The administrator behind a request (after the signedInAdmin step), for the audit log. */
export const adminActor = (scope: Scope): Actor => ({ kind: 'admin', id: scope.caller.user.id, username: scope.caller.user.username });

/** One page of live sessions, of everyone or of one user, newest first; `next`: where the following page starts, if any. */
export async function liveSessions(
  { store, clock, config }: Pick<Services, 'store' | 'clock' | 'config'>,
  query: { userId?: string; limit: number; after?: Position },
): Promise<{ sessions: ListedSession[]; next?: Position }> {
  const now = clock.now();
  const { userId, limit, after } = query;
  const page = await store.listSessions({
    userId,
    usedSince: now - config.idle_timeout,
    createdSince: now - config.session_lifetime,
    limit: limit + 1,
    after: after && { createdAt: after.at, id: after.id },
  });
  const sessions = page.slice(0, limit);
  const last = sessions.at(-1);
  return { sessions, next: page.length > limit && last ? { at: last.createdAt, id: last.id } : undefined };
}

/** GET /_auth/admin/sessions?user=&limit=&cursor= */
export async function listSessions(scope: Scope): Promise<void> {
  // An empty parameter (?user=&cursor=, as a form sends it) is an absent one.
  const param = (name: string) => scope.url.searchParams.get(name) || null;
  const limit = pageLimit(param('limit'));
  const after = decodeCursor(param('cursor'));
  const userId = param('user') ?? undefined;
  if (userId !== undefined && !(userId.length <= 128 && (await scope.services.store.findUserById(userId)))) throw fail('user_not_found');
  const { sessions, next } = await liveSessions(scope.services, { userId, limit, after });
  scope.json(200, { sessions: sessions.map(sessionJson), next_cursor: next ? encodeCursor(next) : null });
}

/** DELETE /_auth/admin/sessions/{id}: ends it here at once, elsewhere within trust_window (and its WebSockets with it). */
export async function revokeSession(scope: Scope): Promise<void> {
  const { services } = scope;
  const ended = await endSession(services, scope.params['id']!, adminActor(scope), clientAddress(scope.req, services.trusted));
  if (!ended) throw fail('session_not_found');
  scope.empty(204);
}

/** Ends a live session for an administrator or the CLI, audited; false when there is no such live session. */
export async function endSession(services: Services, id: string, actor: Actor, address?: string): Promise<boolean> {
  const session = id.length <= 128 ? await services.store.findSession(id) : undefined;
  if (!session || session.revokedAt !== null) return false;
  const user = await services.store.findUserById(session.userId);
  await services.sessions.end(id, 'admin_revoked');
  await services.audit.record({ type: 'session_revoked', user: user && { id: user.id, username: user.username }, actor, address, details: { session_id: id } });
  return true;
}

/** Ends every live session of the user for an administrator or the CLI, audited; how many ended. */
export async function endAllSessions(services: Services, user: User, actor: Actor, address?: string): Promise<number> {
  const ended = await services.sessions.endAllOfUser(user.id, 'admin_revoked');
  await services.audit.record({ type: 'sessions_revoked', user: { id: user.id, username: user.username }, actor, address, details: { count: ended } });
  return ended;
}
