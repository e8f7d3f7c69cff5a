/**
 * The HTML pages gatehouse serves itself. No external assets, no scripts; the one
 * inline style block carries the response's CSP nonce.
 */
const escapes: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
export const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => escapes[c]!);

const STYLE = `
  *{box-sizing:border-box}
  body{margin:0;min-height:100vh;display:grid;place-items:center;font:16px/1.5 system-ui,sans-serif;background:#f4f5f7;color:#1d2129}
  main{width:min(100% - 2rem,24rem);background:#fff;padding:2rem;border-radius:12px;box-shadow:0 1px 3px #0002}
  h1{font-size:1.4rem;margin:0 0 1.25rem}
  label{display:block;font-weight:600;margin:.75rem 0 .25rem}
  input{width:100%;padding:.6rem .7rem;font:inherit;border:1px solid #b8bec8;border-radius:8px}
  input:focus{outline:3px solid #4a7dff66;border-color:#3563e9}
  button{margin-top:1.25rem;width:100%;padding:.7rem;font:inherit;font-weight:600;color:#fff;background:#3563e9;border:0;border-radius:8px;cursor:pointer}
  button:focus-visible{outline:3px solid #1d2129}
  .error{background:#fdecec;color:#8a1c1c;border:1px solid #f3b8b8;padding:.6rem .8rem;border-radius:8px}
  p.alt{margin:1.25rem 0 0;text-align:center}
  @media (prefers-color-scheme:dark){body{background:#15171b;color:#e7e9ee}main{background:#1f2228}input{background:#15171b;color:inherit;border-color:#4a505c}}`;

/** `passkeys` loads gatehouse's own passkey script (no inline scripts anywhere). */
function layout(title: string, nonce: string, body: string, passkeys = false): string {
  const script = passkeys ? '<script type="module" src="/_auth/assets/passkeys.js"></script>' : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${escapeHtml(title)}</title><style nonce="${nonce}">${STYLE}</style>${script}</head>
<body><main>${body}</main></body></html>`;
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
}

const csrfField = (csrf: string) => `<input type="hidden" name="csrf" value="${escapeHtml(csrf)}">`;

export function loginPage({ nonce, csrf, rd, error, username = '', registrationOpen }: FormPageInput): string {
  const register = registrationOpen ? `<p class="alt"><a href="/_auth/register?rd=${encodeURIComponent(rd)}">Create an account</a></p>` : '';
  const more = `<p class="alt"><a href="/_auth/password/forgot">Forgot your password?</a> · <a href="/_auth/magic-link?rd=${encodeURIComponent(rd)}">Email me a sign-in link</a></p>`;
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
</form>${more}${register}`,
  );
}

export function registerPage({ nonce, csrf, rd, error, username = '', email = '' }: FormPageInput): string {
  return layout(
    'Create an account',
    nonce,
    `<h1>Create an account</h1>${errorBox(error)}
<form method="post" action="/_auth/register"${described(error)}>
${csrfField(csrf)}<input type="hidden" name="rd" value="${escapeHtml(rd)}">
<label for="username">Username</label>
<input id="username" name="username" autocomplete="username" required maxlength="64" value="${escapeHtml(username)}" autofocus>
<label for="email">Email</label>
<input id="email" name="email" type="email" autocomplete="email" value="${escapeHtml(email)}">
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
  return layout('Second step', nonce, `<h1>One more step</h1>${errorBox(error)}${totp}${passkey}`, methods.includes('webauthn'));
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

export function signedInPage({ nonce, csrf, username }: { nonce: string; csrf: string; username: string }): string {
  return layout(
    'Signed in',
    nonce,
    `<h1>Signed in</h1><p>You are signed in as <strong>${escapeHtml(username)}</strong>.</p>
<form method="post" action="/_auth/logout">${csrfField(csrf)}<button type="submit">Sign out</button></form>`,
  );
}

export function messagePage({ nonce, title, message }: { nonce: string; title: string; message: string }): string {
  return layout(title, nonce, `<h1>${escapeHtml(title)}</h1><p>${escapeHtml(message)}</p>`);
}
