/** Administrators' invites and new accounts (SPEC section 11): POST /_auth/admin/invites and POST /_auth/admin/users. */
import { checkGroupNames } from '../admin/groups.js';
import { createInvite, DEFAULT_INVITE_TTL, inviteTerms, inviteTtl } from '../auth/invites.js';
import { fail } from '../errors.js';
import { parseBody, stringField, type Fields } from '../http.js';
import type { Scope } from '../scope.js';
import type { Services } from '../services.js';
import type { User } from '../store/types.js';
import type { Cause } from '../audit.js';
import { adminCause, userJson } from './admin-common.js';

const iso = (ms: number) => new Date(ms).toISOString();

/** JSON only: the admin API has no forms, so a cross-site form post can never reach it. */
async function jsonFields(scope: Scope): Promise<Fields> {
  const { kind, fields } = await parseBody(scope.req);
  if (kind !== 'json') throw fail('unsupported_media_type', 'Send application/json.');
  return fields;
}

/** POST /_auth/admin/invites `{"email"?,"groups"?,"ttl"?}` → 201 `{"url","expires_at"}` */
export async function inviteSomeone(scope: Scope): Promise<void> {
  const { services } = scope;
  const fields = await jsonFields(scope);
  const terms = inviteTerms(stringField(fields, 'email', { max: 320 }), fields['groups']);
  const ttl = inviteTtl(stringField(fields, 'ttl', { max: 32 }));
  const { url, expiresAt } = await createInvite(services, terms, ttl, adminCause(scope));
  scope.json(201, { url, expires_at: iso(expiresAt) });
}

/**
 * POST /_auth/admin/users `{"username","email"?,"groups"?,"password"?}` → 201 with the user. The
 * address counts as confirmed (an administrator set it, SPEC section 5). Without a password the
 * answer holds `invite`: a single-use link to the password-reset page, where the user sets one.
 */
export async function addUser(scope: Scope): Promise<void> {
  const fields = await jsonFields(scope);
  const { user, link } = await addPerson(
    scope.services,
    {
      username: stringField(fields, 'username', { required: true, max: 256 }),
      email: stringField(fields, 'email', { max: 320 }),
      password: stringField(fields, 'password', { max: 8192 }),
      groups: checkGroupNames(fields['groups']),
    },
    adminCause(scope),
  );
  scope.json(201, { ...userJson(user), ...(link && { invite: { url: link.url, expires_at: iso(link.expiresAt) } }) });
}

/**
 * An account an administrator (or the CLI) adds: its address counts as confirmed (SPEC
 * section 5). Without a password, `link` is a single-use link with which its owner sets one.
 */
export async function addPerson(
  services: Pick<Services, 'accounts' | 'oneTimeTokens' | 'config'>,
  person: { username: string; email?: string; password?: string; groups: string[]; admin?: boolean },
  by: Cause,
  linkTtlMs = DEFAULT_INVITE_TTL,
): Promise<{ user: User; link?: { url: string; expiresAt: number } }> {
  const user = await services.accounts.register({ ...person, emailVerified: true, by });
  return { user, ...(person.password === undefined && { link: await passwordLink(services, user, linkTtlMs) }) };
}

/** A single-use link with which a user without a password sets one (the reset page), then signs in with it. */
export async function passwordLink(services: Pick<Services, 'oneTimeTokens' | 'config'>, user: User, ttlMs: number) {
  const { token, expiresAt } = await services.oneTimeTokens.issueExpiring('password_reset', user.id, null, ttlMs);
  return { url: `${services.config.public_url}/_auth/password/reset?token=${token}`, expiresAt };
}
