// The only script of gatehouse's pages: passkeys and the account page's actions.
// Served by gatehouse itself (CSP script-src 'self'); no inline scripts anywhere.
import { startAuthentication, startRegistration } from '/_auth/assets/webauthn/index.js';

const $ = (selector) => document.querySelector(selector);

async function call(method, path, body) {
  const res = await fetch(path, {
    method,
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: 'same-origin',
  });
  const data = res.headers.get('content-type')?.includes('json') ? await res.json() : {};
  if (!res.ok) throw new Error(data.message ?? `The request failed (${res.status}).`);
  return data;
}

function show(id, text) {
  const el = $(id);
  if (!el) return;
  el.textContent = text;
  el.hidden = false;
}

// Sign in with a passkey (login page), or complete a second step with one (second-factor page).
for (const button of [$('#passkey-login'), $('#passkey-mfa')]) {
  button?.addEventListener('click', async () => {
    try {
      const optionsJSON = await call('POST', '/_auth/webauthn/login/options', {});
      const response = await startAuthentication({ optionsJSON });
      const done = await call('POST', '/_auth/webauthn/login/verify', { response, rd: button.dataset.rd });
      location.assign(done.redirect_to ?? '/');
    } catch (error) {
      show('#passkey-error', error.message);
    }
  });
}

$('#passkey-add')?.addEventListener('click', async () => {
  try {
    const optionsJSON = await call('POST', '/_auth/webauthn/register/options', {});
    const response = await startRegistration({ optionsJSON });
    const name = prompt('Name this passkey', 'Passkey') ?? 'Passkey';
    await call('POST', '/_auth/webauthn/register/verify', { response, name });
    location.reload();
  } catch (error) {
    show('#passkey-error', error.message);
  }
});

$('#totp-enroll')?.addEventListener('click', async () => {
  try {
    const { secret, qr_code } = await call('POST', '/_auth/totp/enroll', {});
    $('#totp-qr').src = qr_code;
    $('#totp-secret').textContent = secret;
    $('#totp-setup').hidden = false;
    $('#totp-enroll').hidden = true;
  } catch (error) {
    show('#passkey-error', error.message);
  }
});

const actions = {
  profile: (f) =>
    call('PATCH', '/_auth/account', { display_name: f.display_name, ...(f.email && { email: f.email, current_password: f.email_password || undefined }) }),
  password: (f) => call('POST', '/_auth/account/password', f),
  'totp-confirm': async (f) => {
    const { recovery_codes } = await call('POST', '/_auth/totp/confirm', f);
    $('#recovery-codes').textContent = recovery_codes.join('\n');
    $('#recovery').hidden = false;
    $('#totp-setup').hidden = true;
    return { keep: true };
  },
  'totp-disable': (f) => call('POST', '/_auth/totp/disable', f),
  delete: async (f) => {
    await call('DELETE', '/_auth/account', f);
    location.assign('/_auth/login');
    return { keep: true };
  },
};

for (const form of document.querySelectorAll('form[data-action]')) {
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    try {
      const result = await actions[form.dataset.action](Object.fromEntries(new FormData(form)));
      if (!result?.keep) location.reload();
    } catch (error) {
      show('#passkey-error', error.message);
    }
  });
}

document.addEventListener('click', async (event) => {
  const target = event.target;
  try {
    if (target.dataset?.endSession) {
      await call('DELETE', `/_auth/account/sessions/${encodeURIComponent(target.dataset.endSession)}`);
      location.reload();
    } else if (target.dataset?.unlinkProvider) {
      await call('DELETE', `/_auth/account/oidc/${encodeURIComponent(target.dataset.unlinkProvider)}`);
      location.reload();
    } else if (target.dataset?.deletePasskey) {
      await call('DELETE', `/_auth/webauthn/credentials/${encodeURIComponent(target.dataset.deletePasskey)}`);
      location.reload();
    } else if (target.dataset?.rename) {
      const name = prompt('New name', target.dataset.name);
      if (!name) return;
      await call('PATCH', `/_auth/webauthn/credentials/${encodeURIComponent(target.dataset.rename)}`, { name });
      location.reload();
    }
  } catch (error) {
    show('#passkey-error', error.message);
  }
});
