/** What every admin endpoint shares (SPEC section 11): how it shows a user and a session, and who is acting. */
import type { Cause } from '../audit.js';
import { clientAddress } from '../auth/forwarded.js';
import type { Scope } from '../scope.js';
import type { Session, User } from '../store/types.js';
import { sessionFields } from './common.js';

const iso = (ms: number) => new Date(ms).toISOString();

/** A user as every admin answer shows one. */
export const userJson = (user: User) => ({
  id: user.id,
  username: user.username,
  email: user.email,
  // Only an address can be confirmed: an administrator's account without one is not.
  email_verified: user.emailVerified && user.email !== null,
  display_name: user.displayName,
  groups: user.groups,
  disabled: user.disabled,
  created_at: iso(user.createdAt),
});

/** A session of `user` as every admin answer shows one. */
export function sessionJson(session: Session, user: { id: string; username: string }) {
  const { id, ...rest } = sessionFields(session);
  return { id, user: { id: user.id, username: user.username }, ...rest };
}

/** The administrator behind a request (after the signedInAdmin step) and their client address, for the audit log. */
export function adminCause(scope: Scope): Cause {
  const { id, username } = scope.caller.user;
  return { actor: { kind: 'admin', id, username }, address: clientAddress(scope.req, scope.services.trusted) };
}
