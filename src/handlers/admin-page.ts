/**
 * GET and POST /_auth/admin: the admin page (SPEC section 11). It reads and acts through
 * the same rules as the JSON API and the CLI (People, endSession, invites); every action is
 * a CSRF-protected form answered by a redirect back to the page, naming what was done.
 */
import { checkGroupName } from '../admin/groups.js';
import type { Cause } from '../audit.js';
import { checkFormToken } from '../auth/csrf.js';
import { UNKNOWN_DEVICE } from '../auth/devices.js';
import { createInvite, DEFAULT_INVITE_TTL, inviteTerms } from '../auth/invites.js';
import { adminPage, type AdminPageInput, type AdminUserDetail } from '../admin-page.js';
import { ERRORS, fail, HttpError, type ErrorCode } from '../errors.js';
import { parseBody, stringField, type Fields } from '../http.js';
import { forbiddenPage } from '../pages.js';
import type { Scope } from '../scope.js';
import { loginKey, type User } from '../store/types.js';
import { adminCause } from './admin-common.js';
import { endAllSessions, endSession } from './admin-sessions.js';
import { addPerson } from './admin-invites.js';
import { loginUrl, signedInCaller } from './common.js';
import { decodeCursor, pageOf, queryParam } from './paging.js';

const PAGE_SIZE = 50;
const RECENT_EVENTS = 20;
const PAGE_PATH = '/_auth/admin';

/** What an action did, as the page says it: the redirect names a key, never text. */
const NOTICES = {
  group_added: 'Added to the group.',
  group_removed: 'Removed from the group.',
  disabled: 'Disabled; every session has ended.',
  enabled: 'Enabled.',
  deleted: 'The account is deleted.',
  unbanned: 'The lock-out is lifted.',
  factors_reset: 'Second factors and passkeys are removed.',
  session_ended: 'The session has ended.',
  sessions_ended: 'Every session has ended.',
} as const;

type Notice = keyof typeof NOTICES;

/** GET /_auth/admin?query=&group=&after=&user=: strangers sign in first; other people get the 403 page. */
export async function showAdminPage(scope: Scope): Promise<void> {
  const caller = await signedInCaller(scope);
  if (!caller) return scope.redirect(loginUrl(PAGE_PATH), 302);
  const { user } = caller;
  if (!user.groups.includes('admins')) {
    const address = `${new URL(scope.services.config.public_url).host}${PAGE_PATH}`;
    return scope.form(403, (nonce, csrf) => forbiddenPage({ nonce, csrf, username: user.username, address, rd: PAGE_PATH }));
  }
  const params = scope.url.searchParams;
  const notice = params.get('notice');
  const error = params.get('error');
  await render(scope, user, {
    notice: notice !== null && notice in NOTICES ? NOTICES[notice as Notice] : undefined,
    error: error !== null && error in ERRORS ? ERRORS[error as ErrorCode].message : undefined,
  });
}

/** The page, with the list the query asks for and the person it selects. */
async function render(scope: Scope, admin: User, extra: Pick<AdminPageInput, 'notice' | 'error' | 'link'>): Promise<void> {
  const { store } = scope.services;
  const params = scope.url.searchParams;
  const query = (params.get('query') ?? '').trim().slice(0, 128);
  const groupParam = (params.get('group') ?? '').trim();
  const group = groupParam === '' ? '' : checkGroupName(groupParam);
  // The same cursor as GET /_auth/admin/users: the position is the username, read back as its key.
  const after = decodeCursor(queryParam(params, 'cursor'), loginKey);
  const [users, groups, selected] = await Promise.all([
    store.findUsers({ query: query || undefined, group: group || undefined, limit: PAGE_SIZE + 1, after }),
    store.listGroups({ limit: 200 }),
    selectedUser(scope, params.get('user')),
  ]);
  const { items, next_cursor } = pageOf(users, PAGE_SIZE, (user) => user.username);
  scope.form(200, (nonce, csrf) => adminPage({ nonce, csrf, admin: admin.username, query, group, groups, users: items, nextCursor: next_cursor, selected, ...extra }));
}

async function selectedUser(scope: Scope, id: string | null): Promise<AdminUserDetail | undefined> {
  const { store, people } = scope.services;
  const user = id && id.length <= 128 ? await store.findUserById(id) : undefined;
  if (!user) return undefined;
  const [details, events] = await Promise.all([people.details(user), store.listAuditEvents({ userId: user.id, limit: RECENT_EVENTS })]);
  return {
    ...user,
    factors: details.factors,
    bannedUntil: details.bannedUntil ?? null,
    sessions: details.sessions.map((s) => ({ ...s, device: s.device ?? UNKNOWN_DEVICE, address: s.address ?? '' })),
    events: events.map((e) => ({ at: e.at, type: e.type, actor: e.actorUsername ?? e.actorKind, address: e.address })),
  };
}

/**
 * POST /_auth/admin (an administrator, after the signedInAdmin step): one action from a
 * form of the page. A refused action goes back to the page with the refusal's message.
 */
export async function adminPageAction(scope: Scope): Promise<void> {
  const { kind, fields } = await parseBody(scope.req);
  if (kind !== 'form') throw fail('unsupported_media_type', 'The admin page posts forms.');
  checkFormToken(scope.req, fields['csrf'], scope.services.config);
  const action = stringField(fields, 'action', { required: true, max: 32 });
  const userId = stringField(fields, 'user', { max: 128 });
  try {
    if (action === 'add_user' || action === 'invite') return await makeLink(scope, action, fields);
    const user = userId === undefined ? undefined : await scope.services.store.findUserById(userId);
    if (!user) throw fail('user_not_found');
    const notice = await act(scope, action, user, fields);
    scope.redirect(`${PAGE_PATH}?${new URLSearchParams(notice === 'deleted' ? { notice } : { user: user.id, notice })}`);
  } catch (error) {
    if (!(error instanceof HttpError) || error.status >= 500) throw error;
    scope.redirect(`${PAGE_PATH}?${new URLSearchParams({ ...(userId && { user: userId }), error: error.code })}`);
  }
}

async function act(scope: Scope, action: string, user: User, fields: Fields): Promise<Notice> {
  const { services } = scope;
  const { people } = services;
  const origin: Cause = adminCause(scope);
  switch (action) {
    case 'add_group':
      await people.addToGroup(origin, user, stringField(fields, 'group', { required: true, max: 64 }));
      return 'group_added';
    case 'remove_group':
      await people.removeFromGroup(origin, user, stringField(fields, 'group', { required: true, max: 64 }));
      return 'group_removed';
    case 'disable':
    case 'enable':
      await people.setDisabled(origin, user, action === 'disable');
      return action === 'disable' ? 'disabled' : 'enabled';
    case 'delete':
      // The checkbox: a slip of the mouse must not delete someone.
      if (fields['confirm'] !== 'yes') throw fail('missing_field', 'Tick the box to confirm the deletion.');
      await people.delete(origin, user);
      return 'deleted';
    case 'unban':
      await people.unban(origin, user);
      return 'unbanned';
    case 'reset_factors':
      await people.resetFactors(origin, user);
      return 'factors_reset';
    case 'revoke_session': {
      const id = stringField(fields, 'session', { required: true, max: 128 });
      const session = await services.store.findSession(id);
      // Only a session of the person on the page: the form names both.
      if (session?.userId !== user.id || !(await endSession(services, id, origin))) throw fail('session_not_found');
      return 'session_ended';
    }
    case 'revoke_sessions':
      await endAllSessions(services, user, origin);
      return 'sessions_ended';
    default:
      throw fail('invalid_field', 'Unknown action.');
  }
}

/** A new account without a password, or an invite: the page again, showing its single-use link once. */
async function makeLink(scope: Scope, action: 'add_user' | 'invite', fields: Fields): Promise<void> {
  const { services } = scope;
  const email = stringField(fields, 'email', { max: 320 }) || undefined;
  const groups = (stringField(fields, 'groups', { max: 4000 }) ?? '')
    .split(',')
    .map((group) => group.trim())
    .filter(Boolean);
  const by = adminCause(scope);
  const terms = inviteTerms(email, groups);
  let link: { url: string; expiresAt: number };
  if (action === 'invite') {
    link = await createInvite(services, terms, DEFAULT_INVITE_TTL, by);
  } else {
    const username = stringField(fields, 'username', { required: true, max: 256 });
    link = (await addPerson(services, { username, ...terms }, by)).link!;
  }
  await render(scope, scope.caller.user, { link, notice: action === 'invite' ? 'Invite made.' : 'Account added; give its owner the link to set a password.' });
}
