/**
 * The administration API for people (SPEC section 11): find and show users, disable,
 * delete, unban, reset second factors, groups. The rules live in src/admin/people.ts;
 * this file reads requests and answers in the shapes of admin-common.ts.
 */
import { checkGroupName } from '../admin/groups.js';
import { fail } from '../errors.js';
import { parseBody } from '../http.js';
import type { Scope } from '../scope.js';
import { loginKey, type User } from '../store/types.js';
import { adminCause, sessionJson, userJson } from './admin-common.js';
import { decodeCursor, pageLimit, pageOf, queryParam } from './paging.js';

const iso = (ms: number) => new Date(ms).toISOString();
/** A group name: any text (a provider may grant any). */
const anyText = (position: string) => position;

async function target(scope: Scope): Promise<User> {
  const user = await scope.services.store.findUserById(scope.params['id']!);
  if (!user) throw fail('user_not_found');
  return user;
}

/** GET /_auth/admin/users?query=&group=&limit=&cursor= */
export async function listUsers(scope: Scope): Promise<void> {
  const params = scope.url.searchParams;
  const group = queryParam(params, 'group');
  const query = queryParam(params, 'query');
  if (query !== undefined && query.length > 320) throw fail('invalid_field', '"query" is too long.');
  const limit = pageLimit(queryParam(params, 'limit'));
  // The position is the username, not its key: NFKC can make a key of 64 characters 18 times as long.
  const after = decodeCursor(queryParam(params, 'cursor'), loginKey);
  const users = await scope.services.store.findUsers({ query, group: group && checkGroupName(group), limit: limit + 1, after });
  const { items, next_cursor } = pageOf(users, limit, (user) => user.username);
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
  await scope.services.people.setDisabled(adminCause(scope), user, fields['disabled']);
  scope.json(200, userJson((await scope.services.store.findUserById(user.id)) ?? user));
}

/** DELETE /_auth/admin/users/{id} */
export async function deleteUser(scope: Scope): Promise<void> {
  await scope.services.people.delete(adminCause(scope), await target(scope));
  scope.empty(204);
}

/** POST /_auth/admin/users/{id}/unban */
export async function unbanUser(scope: Scope): Promise<void> {
  await scope.services.people.unban(adminCause(scope), await target(scope));
  scope.empty(204);
}

/** DELETE /_auth/admin/users/{id}/factors */
export async function resetFactors(scope: Scope): Promise<void> {
  await scope.services.people.resetFactors(adminCause(scope), await target(scope));
  scope.empty(204);
}

/** GET /_auth/admin/groups?limit=&cursor= */
export async function listGroups(scope: Scope): Promise<void> {
  const params = scope.url.searchParams;
  const limit = pageLimit(queryParam(params, 'limit'));
  const groups = await scope.services.store.listGroups({ limit: limit + 1, after: decodeCursor(queryParam(params, 'cursor'), anyText) });
  const { items, next_cursor } = pageOf(groups, limit, (group) => group.name);
  scope.json(200, { groups: items, next_cursor });
}

/** PUT /_auth/admin/users/{id}/groups/{group}: idempotent, 204 either way. */
export async function addToGroup(scope: Scope): Promise<void> {
  const group = checkGroupName(scope.params['group']!);
  await scope.services.people.addToGroup(adminCause(scope), await target(scope), group);
  scope.empty(204);
}

/** DELETE /_auth/admin/users/{id}/groups/{group}: idempotent, 204 either way. */
export async function removeFromGroup(scope: Scope): Promise<void> {
  const group = checkGroupName(scope.params['group']!);
  await scope.services.people.removeFromGroup(adminCause(scope), await target(scope), group);
  scope.empty(204);
}
