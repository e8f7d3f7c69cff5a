/**
 * The admin page (SPEC section 11): find people, see their groups, factors, bans and
 * sessions, and act on them. Plain HTML forms, no script: every action is a POST to
 * /_auth/admin with the CSRF token, answered by a redirect back here.
 */
import { escapeHtml } from './escape.js';
import { csrfField, layout } from './pages.js';

export interface AdminUserRow {
  id: string;
  username: string;
  email: string | null;
  groups: string[];
  disabled: boolean;
}

export interface AdminSessionRow {
  id: string;
  device: string;
  address: string;
  createdAt: number;
  lastUsedAt: number;
}

export interface AdminUserDetail extends AdminUserRow {
  emailVerified: boolean;
  createdAt: number;
  factors: { password: boolean; totp: boolean; recoveryCodes: number; passkeys: number };
  bannedUntil: number | null;
  sessions: AdminSessionRow[];
  /** The newest audit events about this person. */
  events: { at: number; type: string; actor: string; address: string | null }[];
}

export interface AdminPageInput {
  nonce: string;
  csrf: string;
  admin: string;
  query: string;
  group: string;
  groups: { name: string; members: number }[];
  users: AdminUserRow[];
  nextCursor: string | null;
  selected?: AdminUserDetail;
  /** What the last action did, from a fixed list (never text from the request). */
  notice?: string;
  error?: string;
  /** A link made just now (an invite), shown once. */
  link?: { url: string; expiresAt: number };
}

const time = (ms: number) => new Date(ms).toISOString().slice(0, 16).replace('T', ' ');

/** One button that posts `action` (and the hidden fields) back to the admin page. */
function action(csrf: string, name: string, label: string, fields: Record<string, string>, extra = ''): string {
  const hidden = Object.entries(fields)
    .map(([key, value]) => `<input type="hidden" name="${key}" value="${escapeHtml(value)}">`)
    .join('');
  return `<form method="post" action="/_auth/admin" class="inline">${csrfField(csrf)}<input type="hidden" name="action" value="${name}">${hidden}${extra}<button type="submit" class="secondary">${escapeHtml(label)}</button></form>`;
}

function search({ query, group, groups }: AdminPageInput): string {
  const options = groups
    .map((g) => `<option value="${escapeHtml(g.name)}"${g.name === group ? ' selected' : ''}>${escapeHtml(g.name)} (${g.members})</option>`)
    .join('');
  return `<form method="get" action="/_auth/admin" class="row" role="search">
<label for="query">Find people</label><input id="query" name="query" type="search" value="${escapeHtml(query)}" placeholder="name or email">
<label for="group">Group</label><select id="group" name="group"><option value="">any</option>${options}</select>
<button type="submit">Search</button></form>`;
}

function userTable({ users, nextCursor, query, group }: AdminPageInput): string {
  if (users.length === 0) return '<p>Nobody matches.</p>';
  const rows = users
    .map(
      (u) => `<tr><td><a href="/_auth/admin?user=${encodeURIComponent(u.id)}">${escapeHtml(u.username)}</a></td><td>${escapeHtml(u.email ?? '')}</td>
<td>${escapeHtml(u.groups.join(', '))}</td><td>${u.disabled ? 'disabled' : 'active'}</td></tr>`,
    )
    .join('');
  const more = nextCursor
    ? `<p><a href="/_auth/admin?query=${encodeURIComponent(query)}&amp;group=${encodeURIComponent(group)}&amp;cursor=${encodeURIComponent(nextCursor)}">More people</a></p>`
    : '';
  return `<table><thead><tr><th>Username</th><th>Email</th><th>Groups</th><th>State</th></tr></thead><tbody>${rows}</tbody></table>${more}`;
}

function userDetail(csrf: string, u: AdminUserDetail): string {
  const id = { user: u.id };
  const groups = u.groups.length
    ? `<ul class="items">${u.groups.map((g) => `<li><span>${escapeHtml(g)}</span>${action(csrf, 'remove_group', `Remove from ${g}`, { ...id, group: g })}</li>`).join('')}</ul>`
    : '<p>In no group.</p>';
  const addGroup = action(csrf, 'add_group', 'Add to group', id, '<label for="add-group">Group</label><input id="add-group" name="group" required maxlength="64" pattern="[A-Za-z0-9._-]+">');
  const f = u.factors;
  const factors = `<p>Password: ${f.password ? 'set' : 'none'} · Authenticator app: ${f.totp ? 'on' : 'off'} · Recovery codes left: ${f.recoveryCodes} · Passkeys: ${f.passkeys}</p>`;
  const resetFactors = f.totp || f.recoveryCodes > 0 || f.passkeys > 0 ? action(csrf, 'reset_factors', 'Remove second factors and passkeys', id) : '';
  const ban = u.bannedUntil ? `<p>Locked out after failed sign-ins until ${time(u.bannedUntil)} UTC.</p>${action(csrf, 'unban', 'Lift the lock-out', id)}` : '<p>Not locked out.</p>';
  const sessions = u.sessions.length
    ? `<table><thead><tr><th>Device</th><th>Address</th><th>Started</th><th>Last used</th><th></th></tr></thead><tbody>${u.sessions
        .map(
          (s) => `<tr><td>${escapeHtml(s.device)}</td><td>${escapeHtml(s.address)}</td><td>${time(s.createdAt)}</td><td>${time(s.lastUsedAt)}</td>
<td>${action(csrf, 'revoke_session', 'End', { ...id, session: s.id })}</td></tr>`,
        )
        .join('')}</tbody></table>${action(csrf, 'revoke_sessions', 'End every session', id)}`
    : '<p>No live sessions.</p>';
  const state = u.disabled ? action(csrf, 'enable', 'Enable', id) : action(csrf, 'disable', 'Disable (ends every session)', id);
  const remove = action(
    csrf,
    'delete',
    'Delete this account',
    id,
    `<label><input type="checkbox" name="confirm" value="yes" required> Delete ${escapeHtml(u.username)} for good</label>`,
  );
  const email = u.email ? `${escapeHtml(u.email)} ${u.emailVerified ? '(confirmed)' : '(not confirmed)'}` : 'none';
  return `<section aria-labelledby="person"><h2 id="person">${escapeHtml(u.username)}</h2>
<p>Email: ${email}<br>Created ${time(u.createdAt)} UTC · ${u.disabled ? '<strong>disabled</strong>' : 'active'}<br><small>id ${escapeHtml(u.id)}</small></p>
<h3>Groups</h3>${groups}${addGroup}
<h3>Sign-in factors</h3>${factors}${resetFactors}
<h3>Lock-out</h3>${ban}
<h3>Sessions</h3>${sessions}
<h3>Account</h3>${state}${remove}
<h3>Recent events</h3>${events(u.events)}</section>`;
}

function events(list: AdminUserDetail['events']): string {
  if (list.length === 0) return '<p>None recorded.</p>';
  const rows = list
    .map((e) => `<tr><td>${time(e.at)}</td><td>${escapeHtml(e.type)}</td><td>${escapeHtml(e.actor)}</td><td>${escapeHtml(e.address ?? '')}</td></tr>`)
    .join('');
  return `<table><thead><tr><th>When (UTC)</th><th>Event</th><th>By</th><th>From</th></tr></thead><tbody>${rows}</tbody></table>`;
}

function creation(csrf: string): string {
  return `<section aria-labelledby="add"><h2 id="add">Add people</h2>
<form method="post" action="/_auth/admin">${csrfField(csrf)}<input type="hidden" name="action" value="add_user">
<label for="new-username">Username</label><input id="new-username" name="username" required maxlength="64">
<label for="new-email">Email <small>(optional; counts as confirmed)</small></label><input id="new-email" name="email" type="email">
<label for="new-groups">Groups <small>(comma-separated, optional)</small></label><input id="new-groups" name="groups">
<button type="submit">Add, and make a link to set a password</button></form>
<form method="post" action="/_auth/admin">${csrfField(csrf)}<input type="hidden" name="action" value="invite">
<label for="invite-email">Invite by email <small>(optional)</small></label><input id="invite-email" name="email" type="email">
<label for="invite-groups">Groups <small>(comma-separated, optional)</small></label><input id="invite-groups" name="groups">
<button type="submit">Make an invite link</button></form></section>`;
}

export function adminPage(input: AdminPageInput): string {
  const { nonce, csrf, admin, notice, error, link, selected } = input;
  const status = notice ? `<p class="ok" role="status">${escapeHtml(notice)}</p>` : '';
  const problem = error ? `<p class="error" role="alert">${escapeHtml(error)}</p>` : '';
  const made = link
    ? `<p class="ok" role="status">Single-use link, valid until ${time(link.expiresAt)} UTC; it is shown only now:<br><code id="made-link">${escapeHtml(link.url)}</code></p>`
    : '';
  return layout(
    'Administration',
    nonce,
    `<h1>Administration</h1><p>Signed in as <strong>${escapeHtml(admin)}</strong></p>
${status}${problem}${made}${search(input)}${userTable(input)}${selected ? userDetail(csrf, selected) : ''}${creation(csrf)}`,
    { wide: true },
  );
}
