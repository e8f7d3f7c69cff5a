/**
 * Invitations (SPEC section 11): single-use links to register, whatever `registration`
 * says, with the groups (and the address) an administrator chose. Only the token's hash
 * is stored; the account and the use of the invite are one transaction (Store.createUser).
 */
import { checkGroupNames } from '../admin/groups.js';
import type { AuditLog, Cause } from '../audit.js';
import { Invalid, parseDuration } from '../config-values.js';
import type { Config } from '../config.js';
import { fail } from '../errors.js';
import { emailProblem } from './accounts.js';
import type { OneTimeTokens } from './one-time-tokens.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
export const DEFAULT_INVITE_TTL = 7 * DAY;
/** Long enough for a weekend and a mail round trip, short enough that a forgotten link dies. */
const INVITE_TTL = { min: HOUR, max: 30 * DAY };

/** What an invite grants: its groups, and the one address it may register with, if it names one. */
export interface InviteTerms {
  email?: string;
  groups: string[];
}

/** A link's lifetime from a duration such as 12h or 7d (the settings' syntax), 1h to 30d; 400 otherwise. */
export function inviteTtl(value: string | undefined): number {
  if (value === undefined) return DEFAULT_INVITE_TTL;
  let ms: number;
  try {
    ms = parseDuration(value);
  } catch (error) {
    if (error instanceof Invalid) throw fail('invalid_field', 'ttl must be a duration from 1h to 30d, such as 12h or 7d.');
    throw error;
  }
  if (ms < INVITE_TTL.min || ms > INVITE_TTL.max) throw fail('invalid_field', 'ttl must be a duration from 1h to 30d, such as 12h or 7d.');
  return ms;
}

/** The terms an administrator asked for, checked: 400 for an address that is not one, or bad group names. */
export function inviteTerms(email: string | undefined, groups: unknown): InviteTerms {
  const problem = email === undefined ? undefined : emailProblem(email);
  if (problem) throw fail('invalid_input', problem);
  return { ...(email !== undefined && { email }), groups: checkGroupNames(groups) };
}

/** A new invite, answered once its audit event (who made it, for what) is stored. */
export async function createInvite(
  { oneTimeTokens, config, audit }: { oneTimeTokens: OneTimeTokens; config: Pick<Config, 'public_url'>; audit: AuditLog },
  terms: InviteTerms,
  ttlMs: number,
  by: Cause,
): Promise<{ url: string; expiresAt: number }> {
  const { token, expiresAt } = await oneTimeTokens.issueExpiring('invite', null, JSON.stringify(terms), ttlMs);
  const details = { email: terms.email, groups: terms.groups, expires_at: new Date(expiresAt).toISOString() };
  await audit.record({ type: 'invite_created', ...by, details });
  return { url: `${config.public_url}/_auth/register?invite=${token}`, expiresAt };
}

/** The terms of a live invite (without using it up); undefined when it is unknown, used, expired or malformed. */
export async function findInvite(oneTimeTokens: OneTimeTokens, token: unknown): Promise<InviteTerms | undefined> {
  const found = await oneTimeTokens.peek(token, 'invite');
  if (!found?.data) return undefined;
  const { email, groups } = JSON.parse(found.data) as Partial<InviteTerms>;
  return { ...(typeof email === 'string' && { email }), groups: Array.isArray(groups) ? groups : [] };
}
