/**
 * The administration API for people (SPEC section 11): find and show users, disable,
 * delete, unban, reset second factors, groups. The rules live in src/admin/people.ts;
 * this file reads requests and writes the JSON shapes every admin endpoint shares.
 */
import { checkGroupName, type Origin } from '../admin/people.js';
import { clientAddress } from '../auth/forwarded.js';
import { fail } from '../errors.js';
import { parseBody } from '../http.js';
import type { Scope } from '../scope.js';
import { loginKey, type Session, type User } from '../store/types.js';

const DEFAULT_LIMIT = 50;
const MAX_LIMIT = 200;
const MAX_CURSOR = 400;

const iso = (ms: number) => new Date(ms).toISOString();

/** A user as every admin endpoint shows one. */
export const userJson = (user: User) => ({
  id: user.id,
  username: user.username,
  email: user.email,
  email_verified: user.emailVerified,
  display_name: user.displayName,
  groups: user.groups,
  disabled: user.disabled,
  created_at: iso(user.createdAt),
});

/** A session as every admin endpoint shows one; device and address are not recorded yet. */
export const sessionJson = (session: Session, user: User) => ({
  id: session.id,
  user: { id: user.id, username: user.username },
  device: 'unknown',
  address: null,
  created_at: iso(session.createdAt),
  last_used_at: iso(session.lastUsedAt),
});

/** One query parameter, at most once. */
function param(scope: Scope, name: string): string | undefined {
  const values = scope.url.searchParams.getAll(name);
  if (values.length > 1) throw fail('invalid_field', `Give "${name}" at most once.`);
  return values[0] === '' ? undefined : values[0];
}

function limitParam(scope: Scope): number {
  const value = param(scope, 'limit');
  if (value === undefined) return DEFAULT_LIMIT;
  const limit = /^[0-9]{1,3}$/.test(value) ? Number(value) : 0;
  if (limit < 1 || limit > MAX_LIMIT) throw fail('invalid_field', `"limit" is a whole number from 1 to ${MAX_LIMIT}.`);
  return limit;
}

/** Cursors are opaque to clients: the last key of a page, base64url. */
const cursorOf = (key: string) => Buffer.from(key, 'utf8').toString('base64url');

function cursorParam(scope: Scope): string | undefined {
  const value = param(scope, 'cursor');
  if (value === undefined) return undefined;
  const bytes = value.length <= MAX_CURSOR && /^[A-Za-z0-9_-]+$/.test(value) ? Buffer.from(value, 'base64url') : undefined;
  try {
    if (bytes && bytes.toString('base64url') === value) return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    // not UTF-8: refused below
  }
  throw fail('invalid_field', 'The cursor is not one this server gave.');
}

/** The page and the cursor of the next one (null on the last page). */
const page = <T>(items: T[], limit: number, keyOf: (item: T) => string) => ({
  items,
  next_cursor: items.length === limit ? cursorOf(keyOf(items.at(-1)!)) : null,
});

const origin = (scope: Scope): Origin => {
  const { id, username } = scope.caller.user;
  return { actor: { kind: 'admin', id, username }, address: clientAddress(scope.req, scope.services.trusted) };
};

async function target(scope: Scope): Promise<User> {
  const user = await scope.services.store.findUserById(scope.params['id']!);
  if (!user) throw fail('user_not_found');
  return user;
}

/** GET /_auth/admin/users?query=&group=&limit=&cursor= */
export async function listUsers(scope: Scope): Promise<void> {
  const group = param(scope, 'group');
  const query = param(scope, 'query');
  if (query !== undefined && query.length > 320) throw fail('invalid_field', '"query" is too long.');
  const limit = limitParam(scope);
  const users = await scope.services.store.findUsers({ query, group: group && checkGroupName(group), limit, after: cursorParam(scope) });
  const { items, next_cursor } = page(users, limit, (user) => loginKey(user.username));
  scope.json(200, { users: items.map(userJson), next_cursor });
}

/** GET /_auth/admin/users/{id}: the profile, groups, factors, ban and live sessions. */
export async function showUser(scope: Scope): Promise<void> {
  const user = await target(scope);
  const { factors, bannedUntil, sessions } = await scope.services.people.details(user);
  scope.json(200, {
    ...userJson(user),
    factors: { password: factors.password, totp: factors.totp, recovery_codes: factors.recoveryCodes, passkeys: factors.passkeys },
    banned_until: bannedUntil === undefined ? null : iso(bannedUntil),
    sessions: sessions.map((session) => sessionJson(session, user)),
  });
}

/** PATCH /_auth/admin/users/{id} {"disabled": bool} */
export async function updateUser(scope: Scope): Promise<void> {
  const { fields } = await parseBody(scope.req);
  if (fields['disabled'] === undefined) throw fail('missing_field', 'The field "disabled" is required.');
  if (typeof fields['disabled'] !== 'boolean') throw fail('invalid_field', 'The field "disabled" must be true or false.');
  const user = await target(scope);
  await scope.services.people.setDisabled(origin(scope), user, fields['disabled']);
  scope.json(200, userJson((await scope.services.store.findUserById(user.id)) ?? user));
}

/** DELETE /_auth/admin/users/{id} */
export async function deleteUser(scope: Scope): Promise<void> {
  await scope.services.people.delete(origin(scope), await target(scope));
  scope.empty(204);
}

/** POST /_auth/admin/users/{id}/unban */
export async function unbanUser(scope: Scope): Promise<void> {
  await scope.services.people.unban(origin(scope), await target(scope));
  scope.empty(204);
}

/** DELETE /_auth/admin/users/{id}/factors */
export async function resetFactors(scope: Scope): Promise<void> {
  await scope.services.people.resetFactors(origin(scope), await target(scope));
  scope.empty(204);
}

/** GET /_auth/admin/groups?limit=&cursor= */
export async function listGroups(scope: Scope): Promise<void> {
  const limit = limitParam(scope);
  const groups = await scope.services.store.listGroups({ limit, after: cursorParam(scope) });
  const { items, next_cursor } = page(groups, limit, (group) => group.name);
  scope.json(200, { groups: items, next_cursor });
}

/** PUT /_auth/admin/users/{id}/groups/{group}: idempotent, 204 either way. */
export async function addToGroup(scope: Scope): Promise<void> {
  const group = checkGroupName(scope.params['group']!);
  await scope.services.people.addToGroup(origin(scope), await target(scope), group);
  scope.empty(204);
}

/** DELETE /_auth/admin/users/{id}/groups/{group}: idempotent, 204 either way. */
export async function removeFromGroup(scope: Scope): Promise<void> {
  const group = checkGroupName(scope.params['group']!);
  await scope.services.people.removeFromGroup(origin(scope), await target(scope), group);
  scope.empty(204);
}
