/**
 * The HTML pages gatehouse serves itself. No external assets, no scripts; the one
 * inline style block carries the response's CSP nonce.
 */
import { UNKNOWN_DEVICE } from './auth/devices.js';
import { escapeHtml } from './escape.js';

const STYLE = `
  *{box-sizing:border-box}
  body{margin:0;min-height:100vh;display:grid;place-items:center;font:16px/1.5 system-ui,sans-serif;background:#f4f5f7;color:#1d2129}
  main{width:min(100% - 2rem,30rem);background:#fff;padding:2rem;border-radius:12px;box-shadow:0 1px 3px #0002}
  h1{font-size:1.4rem;margin:0 0 1.25rem}
  label{display:block;font-weight:600;margin:.75rem 0 .25rem}
  input{width:100%;padding:.6rem .7rem;font:inherit;border:1px solid #b8bec8;border-radius:8px}
  input:focus{outline:3px solid #4a7dff66;border-color:#3563e9}
  button{margin-top:1.25rem;width:100%;padding:.7rem;font:inherit;font-weight:600;color:#fff;background:#3563e9;border:0;border-radius:8px;cursor:pointer}
  button:focus-visible{outline:3px solid #1d2129}
  section{border-top:1px solid #d8dce3;margin-top:1.5rem;padding-top:.5rem}
  h2{font-size:1.1rem}
  ul.items{list-style:none;padding:0}ul.items li{display:flex;gap:.5rem;align-items:center;justify-content:space-between;padding:.4rem 0}
  ul.items button,button.secondary{width:auto;margin:0;padding:.35rem .7rem;background:#5a6270}
  .ok{background:#e8f6ec;color:#1c5a2c;border:1px solid #b7e0c2;padding:.6rem .8rem;border-radius:8px}
  img.qr{display:block;margin:1rem auto;width:200px;height:200px;image-rendering:pixelated}
  code.codes{display:block;white-space:pre;font-size:1rem;line-height:1.6}
  .error{background:#fdecec;color:#8a1c1c;border:1px solid #f3b8b8;padding:.6rem .8rem;border-radius:8px}
  p.alt{margin:1.25rem 0 0;text-align:center}
  main.wide{width:min(100% - 2rem,64rem)}
  table{width:100%;border-collapse:collapse;margin:.5rem 0}th,td{text-align:left;padding:.35rem .5rem;border-bottom:1px solid #d8dce3;vertical-align:middle}
  form.inline{display:inline-flex;gap:.5rem;align-items:center;margin:.25rem .5rem .25rem 0}form.inline label{margin:0;font-weight:400}form.inline input:not([type=checkbox]){width:auto}
  form.row{display:flex;flex-wrap:wrap;gap:.5rem;align-items:end}form.row input,form.row select{width:auto}form.row button{width:auto;margin:0}
  select{padding:.55rem;font:inherit;border:1px solid #b8bec8;border-radius:8px}h3{font-size:1rem;margin:1.25rem 0 .25rem}
  a.provider{display:block;margin-top:.75rem;padding:.6rem;text-align:center;font-weight:600;color:inherit;border:1px solid #b8bec8;border-radius:8px;text-decoration:none}
  @media (prefers-color-scheme:dark){body{background:#15171b;color:#e7e9ee}main{background:#1f2228}input{background:#15171b;color:inherit;border-color:#4a505c}}`;

/** `passkeys` loads gatehouse's own page script (no inline scripts anywhere); `wide` makes room for tables. */
export function layout(title: string, nonce: string, body: string, { passkeys = false, wide = false } = {}): string {
  const script = passkeys ? '<script type="module" src="/_auth/assets/pages.js"></script>' : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${escapeHtml(title)}</title><style nonce="${nonce}">${STYLE}</style>${script}</head>
<body><main${wide ? ' class="wide"' : ''}>${body}</main></body></html>`;
}

const errorBox = (error?: string) => (error ? `<p class="error" role="alert" id="form-error">${escapeHtml(error)}</p>` : '');
const described = (error?: string) => (error ? ' aria-describedby="form-error"' : '');

export interface FormPageInput {
  nonce: string;
  csrf: string;
  rd: string;
  error?: string;
  username?: string;
  email?: string;
  registrationOpen: boolean;
  /** Registering with an invite: carried in the form; `emailFixed` when the invite names the address. */
  invite?: string;
  emailFixed?: boolean;
  /** One button each: sign in with another identity provider (SPEC section 12). */
  providers?: readonly { id: string; name: string }[];
}

export const csrfField = (csrf: string) => `<input type="hidden" name="csrf" value="${escapeHtml(csrf)}">`;

/** Links, not forms: the start of a provider sign-in is a plain navigation. */
const providerButtons = (providers: FormPageInput['providers'] = [], rd: string) =>
  providers
    .map((p) => `<a class="provider" href="/_auth/oidc/${encodeURIComponent(p.id)}/start?rd=${encodeURIComponent(rd)}">Sign in with ${escapeHtml(p.name)}</a>`)
    .join('');

export function loginPage({ nonce, csrf, rd, error, username = '', registrationOpen, providers }: FormPageInput): string {
  const register = registrationOpen ? `<p class="alt"><a href="/_auth/register?rd=${encodeURIComponent(rd)}">Create an account</a></p>` : '';
  const more = `<p class="alt"><a href="/_auth/password/forgot">Forgot your password?</a> · <a href="/_auth/magic-link?rd=${encodeURIComponent(rd)}">Email me a sign-in link</a></p>`;
  const passkey = `<button type="button" class="secondary" id="passkey-login" data-rd="${escapeHtml(rd)}">Sign in with a passkey</button><p class="error" role="alert" id="passkey-error" hidden></p>`;
  return layout(
    'Sign in',
    nonce,
    `<h1>Sign in</h1>${errorBox(error)}
<form method="post" action="/_auth/login"${described(error)}>
${csrfField(csrf)}<input type="hidden" name="rd" value="${escapeHtml(rd)}">
<label for="username">Username or email</label>
<input id="username" name="username" autocomplete="username" required value="${escapeHtml(username)}" autofocus>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">Sign in</button>
</form>${passkey}${providerButtons(providers, rd)}${more}${register}`,
    { passkeys: true },
  );
}

export function registerPage({ nonce, csrf, rd, error, username = '', email = '', invite, emailFixed = false }: FormPageInput): string {
  const invited = invite === undefined ? '' : `<p>You were invited to create an account.</p><input type="hidden" name="invite" value="${escapeHtml(invite)}">`;
  return layout(
    'Create an account',
    nonce,
    `<h1>Create an account</h1>${errorBox(error)}
<form method="post" action="/_auth/register"${described(error)}>
${csrfField(csrf)}<input type="hidden" name="rd" value="${escapeHtml(rd)}">${invited}
<label for="username">Username</label>
<input id="username" name="username" autocomplete="username" required maxlength="64" value="${escapeHtml(username)}" autofocus>
<label for="email">Email</label>
<input id="email" name="email" type="email" autocomplete="email" value="${escapeHtml(email)}"${emailFixed ? ' readonly' : ''}>
<label for="password">Password <small>(at least 10 characters)</small></label>
<input id="password" name="password" type="password" autocomplete="new-password" required minlength="10">
<button type="submit">Create account</button>
</form>
<p class="alt"><a href="/_auth/login?rd=${encodeURIComponent(rd)}">I already have an account</a></p>`,
  );
}

export function mfaPage({ nonce, csrf, methods, error }: { nonce: string; csrf: string; methods: string[]; error?: string }): string {
  const totp = methods.includes('totp')
    ? `<form method="post" action="/_auth/mfa/totp"${described(error)}>${csrfField(csrf)}
<label for="code">Code from your authenticator app</label>
<input id="code" name="code" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9]{6}" maxlength="6" required autofocus>
<button type="submit">Verify</button></form>
<details><summary>Use a recovery code</summary>
<form method="post" action="/_auth/mfa/recovery">${csrfField(csrf)}
<label for="recovery">Recovery code</label><input id="recovery" name="code" autocomplete="off" required>
<button type="submit">Use recovery code</button></form></details>`
    : '';
  const passkey = methods.includes('webauthn')
    ? `<button type="button" id="passkey-mfa" data-mfa="1">Use a passkey</button><p class="error" role="alert" id="passkey-error" hidden></p>`
    : '';
  return layout('Second step', nonce, `<h1>One more step</h1>${errorBox(error)}${totp}${passkey}`, { passkeys: methods.includes('webauthn') });
}

export function emailRequestPage(p: { nonce: string; csrf: string; action: string; title: string; button: string; rd?: string }): string {
  const rd = p.rd ? `<input type="hidden" name="rd" value="${escapeHtml(p.rd)}">` : '';
  return layout(
    p.title,
    p.nonce,
    `<h1>${escapeHtml(p.title)}</h1>
<form method="post" action="${p.action}">${csrfField(p.csrf)}${rd}
<label for="email">Email</label><input id="email" name="email" type="email" autocomplete="email" required autofocus>
<button type="submit">${escapeHtml(p.button)}</button></form>
<p class="alt"><a href="/_auth/login">Back to sign in</a></p>`,
  );
}

export function resetPage({ nonce, csrf, token }: { nonce: string; csrf: string; token: string }): string {
  return layout(
    'Choose a new password',
    nonce,
    `<h1>Choose a new password</h1>
<form method="post" action="/_auth/password/reset">${csrfField(csrf)}<input type="hidden" name="token" value="${escapeHtml(token)}">
<label for="password">New password <small>(at least 10 characters)</small></label>
<input id="password" name="password" type="password" autocomplete="new-password" required minlength="10" autofocus>
<button type="submit">Set password</button></form>`,
  );
}

/** Where a magic link leads: nothing happens until the button is pressed, since link scanners and previews fetch links too. */
export function magicLinkPage({ nonce, csrf, token }: { nonce: string; csrf: string; token: string }): string {
  return layout(
    'Sign in',
    nonce,
    `<h1>Sign in</h1><p>Press the button to sign in with the link from your mail.</p>
<form method="post" action="/_auth/magic-link/verify">${csrfField(csrf)}<input type="hidden" name="token" value="${escapeHtml(token)}">
<button type="submit" autofocus>Sign in</button></form>`,
  );
}

export interface AccountPageInput {
  nonce: string;
  csrf: string;
  user: { username: string; email: string | null; emailVerified: boolean; displayName: string | null; totpEnabled: boolean };
  passkeys: { id: string; name: string; createdAt: number; lastUsedAt: number | null }[];
  sessions: { id: string; createdAt: number; lastUsedAt: number; device: string | null; address: string | null }[];
  currentSession: string;
  /** Identity providers: those linked, and those that may be (SPEC section 12). */
  identities?: { providerId: string; name: string; email: string | null; createdAt: number }[];
  providers?: readonly { id: string; name: string }[];
}

const day = (ms: number) => new Date(ms).toISOString().slice(0, 16).replace('T', ' ');

/**
 * Linked providers with an unlink button each, and a link button for each other provider:
 * a form with the page's CSRF token, never a plain link another site could send anyone along.
 */
function providersSection(csrf: string, identities: AccountPageInput['identities'] = [], providers: AccountPageInput['providers'] = []): string {
  if (providers.length === 0 && identities.length === 0) return '';
  const linked = identities
    .map(
      (i) => `<li><span>${escapeHtml(i.name)}${i.email ? ` (${escapeHtml(i.email)})` : ''} <small>linked ${day(i.createdAt)}</small></span>
<button type="button" data-unlink-provider="${escapeHtml(i.providerId)}">Unlink</button></li>`,
    )
    .join('');
  const more = providers
    .filter((p) => !identities.some((i) => i.providerId === p.id))
    .map((p) => `<form method="post" action="/_auth/oidc/${encodeURIComponent(p.id)}/link">${csrfField(csrf)}<button type="submit" class="secondary">Link ${escapeHtml(p.name)}</button></form>`)
    .join('');
  return `<section><h2>Sign-in providers</h2><ul class="items">${linked || '<li>None linked yet.</li>'}</ul>${more}</section>`;
}

export function accountPage({ nonce, csrf, user, passkeys, sessions, currentSession, identities, providers }: AccountPageInput): string {
  const email = user.email
    ? `${escapeHtml(user.email)} ${user.emailVerified ? '(confirmed)' : '(not confirmed yet)'}`
    : 'none';
  const totp = user.totpEnabled
    ? `<p>An authenticator app is required at sign-in.</p>
<form data-action="totp-disable"><label for="totp-password">Password</label><input id="totp-password" name="password" type="password" autocomplete="current-password" required><button type="submit">Turn off</button></form>`
    : `<button type="button" id="totp-enroll">Set up an authenticator app</button><div id="totp-setup" hidden>
<img class="qr" id="totp-qr" alt="QR code for your authenticator app"><p>Or enter this key: <code id="totp-secret"></code></p>
<form data-action="totp-confirm"><label for="totp-code">First code from the app</label><input id="totp-code" name="code" inputmode="numeric" pattern="[0-9]{6}" maxlength="6" required><button type="submit">Turn on</button></form></div>
<div id="recovery" hidden><p>Recovery codes, each usable once. Keep them somewhere safe; they are shown only now.</p><code class="codes" id="recovery-codes"></code></div>`;
  const keys = passkeys
    .map(
      (k) => `<li><span>${escapeHtml(k.name)} <small>added ${day(k.createdAt)}</small></span>
<span><button type="button" data-rename="${escapeHtml(k.id)}" data-name="${escapeHtml(k.name)}">Rename</button> <button type="button" data-delete-passkey="${escapeHtml(k.id)}">Remove</button></span></li>`,
    )
    .join('');
  const ownSessions = sessions
    .map(
      (s) => `<li><span><strong>${escapeHtml(s.device ?? UNKNOWN_DEVICE)}</strong>${s.address ? ` from ${escapeHtml(s.address)}` : ''}${s.id === currentSession ? ' <strong>(this one)</strong>' : ''}<br>
<small>started ${day(s.createdAt)}, last used ${day(s.lastUsedAt)}</small></span>
${s.id === currentSession ? '' : `<button type="button" data-end-session="${escapeHtml(s.id)}">End</button>`}</li>`,
    )
    .join('');
  return layout(
    'Your account',
    nonce,
    `<h1>Your account</h1><p class="ok" role="status" id="status" hidden></p><p class="error" role="alert" id="passkey-error" hidden></p>
<section><h2>Profile</h2><p>Username: <strong>${escapeHtml(user.username)}</strong><br>Email: ${email}</p>
<form data-action="profile"><label for="display_name">Display name</label><input id="display_name" name="display_name" value="${escapeHtml(user.displayName ?? '')}" maxlength="128">
<label for="new-email">New email <small>(confirmed by a link before it counts)</small></label><input id="new-email" name="email" type="email" autocomplete="email">
<label for="email-password">Current password <small>(needed for a new email)</small></label><input id="email-password" name="email_password" type="password" autocomplete="current-password">
<button type="submit">Save</button></form></section>
<section><h2>Password</h2><form data-action="password"><label for="current_password">Current password</label><input id="current_password" name="current_password" type="password" autocomplete="current-password" required>
<label for="new_password">New password</label><input id="new_password" name="new_password" type="password" autocomplete="new-password" minlength="10" required>
<button type="submit">Change password</button></form></section>
<section><h2>Authenticator app</h2>${totp}</section>
<section><h2>Passkeys</h2><ul class="items" id="passkeys">${keys || '<li>No passkeys yet.</li>'}</ul><button type="button" id="passkey-add">Add a passkey</button></section>
${providersSection(csrf, identities, providers)}
<section><h2>Sessions</h2><ul class="items">${ownSessions}</ul></section>
<section><h2>Delete account</h2><form data-action="delete"><label for="delete-password">Password</label><input id="delete-password" name="password" type="password" autocomplete="current-password" required><button type="submit">Delete my account</button></form></section>
<form method="post" action="/_auth/logout">${csrfField(csrf)}<button type="submit" class="secondary">Sign out</button></form>`,
    { passkeys: true },
  );
}

export function signedInPage({ nonce, csrf, username }: { nonce: string; csrf: string; username: string }): string {
  return layout(
    'Signed in',
    nonce,
    `<h1>Signed in</h1><p>You are signed in as <strong>${escapeHtml(username)}</strong>.</p>
<form method="post" action="/_auth/logout">${csrfField(csrf)}<button type="submit">Sign out</button></form>`,
  );
}

/**
 * A signed-in user whom an access rule refuses (SPEC section 11): who is signed in, what they
 * may not open, and a way to sign in as someone else that comes back to that address. No script.
 */
export function forbiddenPage({ nonce, csrf, username, address, rd }: { nonce: string; csrf: string; username: string; address: string; rd: string }): string {
  return layout(
    'Access denied',
    nonce,
    `<h1>Not with this account</h1><p>You are signed in as <strong>${escapeHtml(username)}</strong>. This account may not open <strong>${escapeHtml(address)}</strong>.</p>
<form method="post" action="/_auth/logout">${csrfField(csrf)}<input type="hidden" name="rd" value="${escapeHtml(rd)}"><button type="submit">Sign out and switch account</button></form>`,
  );
}

export function messagePage({ nonce, title, message }: { nonce: string; title: string; message: string }): string {
  return layout(title, nonce, `<h1>${escapeHtml(title)}</h1><p>${escapeHtml(message)}</p>`);
}
