/**
 * What each route of src/routes.ts does, for the API description: one entry per
 * route, keyed by its method and path exactly as the table writes them. The
 * document builder refuses a route without an entry and an entry without a route.
 *
 * `errors` lists the codes the handler itself can answer. The builder adds the
 * ones every route shares, and those that follow from the route (its `before`
 * steps, a body, an unsafe method): list only what this handler adds.
 */
import type { ErrorCode } from '../errors.js';
import { fields, IDENTITY_HEADER_DOCS, object, rdField, ref, status, string, type Schema } from './schemas.js';

export interface Answer {
  description: string;
  json?: Schema;
  html?: true;
  /** Answered with a Location header (and no body). */
  redirect?: true;
  /** Other media types, by name. */
  media?: Record<string, Schema>;
  /** Response headers: name → description. */
  headers?: Record<string, string>;
}

export interface Operation {
  summary: string;
  description?: string;
  tag: string;
  /** A session is used when present (a route with `before` steps needs one: the builder knows). */
  session?: 'optional';
  /** Query parameters (all optional strings): name → description. */
  query?: Record<string, string>;
  /**
   * A JSON body; with `form`, also a urlencoded form with the same fields and `csrf` (`'only'`: the form
   * alone; `'without-csrf'`: posted by another server, not from a page); `optional` when it may be left out.
   */
  body?: { schema: Schema; form?: true | 'only' | 'without-csrf'; optional?: true };
  answers: Record<number, Answer>;
  errors: readonly ErrorCode[];
  /** A form post's errors come back as the form page again, with the message and the error's status. */
  errorPages?: true;
  /** Codes the handler answers as an HTML page saying why (at the code's status), never as JSON: a browser's step. */
  pageErrors?: readonly ErrorCode[];
}

export type Operations = Readonly<Record<string, Operation>>;

const page = (description: string): Answer => ({ description, html: true });
const redirect = (description: string): Answer => ({ description, redirect: true });
const json = (description: string, schema: Schema): Answer => ({ description, json: schema });
const signInAnswer: Answer = json('Signed in: the token body and the session cookie; or, when a second factor is due, the pending state (no session yet).', ref('SignInResult'));
const rdQuery = { rd: 'Where to go after signing in; followed only when safe, else `/`.' };
const tokenQuery = { token: 'The single-use token from the mail.' };
const pageQuery = { limit: 'How many, 1 to 200 (default 50).', cursor: 'The `next_cursor` of the page before.' };
const noBody = (description: string): Answer => ({ description });

export const OPERATIONS: Operations = {
  'GET /': {
    tag: 'pages',
    summary: 'Without an upstream: a page saying who is signed in',
    description: 'In proxy mode, `/` and every path outside `/_auth/` go to the upstream instead (see the description of the API).',
    session: 'optional',
    answers: { 200: page('Who is signed in, with a sign-out button.'), 302: redirect('Not signed in: to the login page.') },
    errors: [],
  },
  'GET /_auth/login': {
    tag: 'sign-in',
    summary: 'The login page',
    query: rdQuery,
    answers: { 200: page('The login form.') },
    errors: [],
  },
  'POST /_auth/login': {
    tag: 'sign-in',
    summary: 'Sign in with a username (or email) and password',
    description: 'An unknown user, a wrong password and a banned account get the same answer. A form post gets the cookies and a 303 to `rd`, or the second-factor page.',
    body: { schema: ref('Credentials'), form: true },
    answers: { 200: signInAnswer, 303: redirect('A form post: signed in (to `rd`) or on to the second-factor page.') },
    errors: ['missing_field', 'invalid_field', 'invalid_credentials', 'email_not_verified'],
    errorPages: true,
  },
  'GET /_auth/register': {
    tag: 'sign-in',
    summary: 'The registration page',
    query: { ...rdQuery, invite: 'The token of an invitation link: the form then registers whatever `registration` says.' },
    answers: { 200: page('The registration form.'), 403: page('Registration is closed, or the invitation is invalid, expired or used.') },
    errors: [],
  },
  'POST /_auth/register': {
    tag: 'sign-in',
    summary: 'Create an account',
    description: 'The first account on an empty database may always register and becomes administrator. With `invite`, registers whatever `registration` says, into the invitation\'s groups; an invitation that names an address takes only that one, as confirmed. Limited per client address.',
    body: { schema: ref('Registration'), form: true },
    answers: {
      201: { description: 'Registered and signed in (the token body), or, when the address must be confirmed first, `{"verification_required":true}` and no tokens (a form: a page).', json: { oneOf: [ref('TokenBody'), object({ verification_required: { const: true } })] }, html: true },
      303: redirect('A form post: registered and signed in, to `rd`.'),
    },
    errors: ['missing_field', 'invalid_field', 'invalid_input', 'email_required', 'registration_closed', 'registration_domain_not_allowed', 'invite_invalid', 'username_taken', 'email_taken', 'breached_password', 'too_many_requests'],
    errorPages: true,
  },
  'POST /_auth/refresh': {
    tag: 'sessions',
    summary: 'Rotate the session: a new token pair for a refresh token',
    description: 'The refresh token comes from the body or the session cookie. One presented again after `refresh_grace` is theft: the whole session is revoked.',
    session: 'optional',
    body: { schema: ref('RefreshTokenBody'), optional: true },
    answers: { 200: json('A rotated pair, and the session cookie.', ref('TokenBody')) },
    errors: ['invalid_field', 'refresh_token_missing', 'refresh_token_invalid'],
  },
  'POST /_auth/logout': {
    tag: 'sessions',
    summary: 'End the session (or, with `all`, every session of the user)',
    description: 'Ends the session of the refresh token in the body, or of the cookie or bearer token. Answers alike whether or not a session was found, and always clears the cookies.',
    session: 'optional',
    body: { schema: ref('Logout'), form: true, optional: true },
    answers: { 204: { description: 'Signed out (JSON or an empty body).' }, 303: redirect('A form post: to the login page, with the form\'s `rd`.') },
    errors: ['invalid_field'],
  },
  'GET /_auth/userinfo': {
    tag: 'sessions',
    summary: "The caller's identity",
    session: 'optional',
    answers: { 200: json('The identity behind the token or cookie (a session cookie past its access token is renewed).', ref('UserInfo')) },
    errors: ['unauthenticated'],
  },
  'GET /_auth/jwks.json': {
    tag: 'sessions',
    summary: 'The public keys that may have signed a live access token',
    answers: { 200: { description: 'A JWK set; cached for a minute at most.', media: { 'application/jwk-set+json': ref('Jwks') } } },
    errors: [],
  },
  'GET /_auth/openapi.json': {
    tag: 'sessions',
    summary: 'This description of the HTTP surface (OpenAPI 3.1)',
    answers: { 200: { description: 'The document; the same for every caller.', media: { 'application/json': { type: 'object', required: ['openapi', 'paths'] } } } },
    errors: [],
  },
  'GET /_auth/verify': {
    tag: 'forward-auth',
    summary: 'Forward-auth: may the original request pass?',
    description: [
      'Asked by the reverse proxy (Traefik `ForwardAuth`, Caddy `forward_auth`, nginx `auth_request`) for every request it guards. The original request is read from `X-Forwarded-Method`, `X-Forwarded-Proto`, `X-Forwarded-Host`, `X-Forwarded-Uri` (Traefik, Caddy) or `X-Original-URL` and `X-Original-Method` (nginx), believed only from `trusted_proxies`; the access rules judge its canonical host and normalised path, under its method and any method-override header.',
      'Allowed: 200, an empty body and the identity headers (empty when unknown). A browser navigation (`Sec-Fetch-Mode: navigate`, or an HTML `Accept`) that is not signed in gets a 302 to the login page, except in the nginx style (auth_request understands only 2xx/401/403): there it gets the 401 with the login URL in `Location` for nginx\'s `error_page`. A signed-in caller whom a rule refuses gets 403: the "not for this account" page for a Traefik/Caddy-style navigation, JSON otherwise (nginx routes its 403 to /_auth/forbidden for the page).',
      'When the session needed renewing in the Traefik/Caddy style (which drop Set-Cookie from a 2xx auth answer), the answer is a 307 back to the same URL carrying the renewed cookie. Every error while deciding answers non-2xx: behind nginx a 200 is a bypass.',
    ].join('\n\n'),
    session: 'optional',
    answers: {
      200: { description: 'Allowed. Empty body.', headers: IDENTITY_HEADER_DOCS },
      302: redirect('A browser navigation that is not signed in (Traefik/Caddy style): to `/_auth/login?rd=<original URL>`.'),
      307: redirect('Allowed, with a renewed session cookie: back to the original URL.'),
      403: {
        description: 'A signed-in browser navigation that the rules refuse (Traefik/Caddy style): who is signed in, and a way to switch account. In the nginx style, JSON, with `Location: /_auth/forbidden?rd=…` for a navigation.',
        html: true,
      },
    },
    errors: [
      'unauthenticated',
      'forbidden',
      'missing_forwarded_request',
      'conflicting_forwarded_headers',
      'duplicate_forwarded_header',
      'missing_original_method',
      'invalid_original_url',
      'invalid_forwarded_method',
      'invalid_forwarded_proto',
      'invalid_forwarded_host',
      'missing_forwarded_method',
      'invalid_forwarded_uri',
      'untrusted_proxy',
      'invalid_method_override',
      'duplicate_method_override',
    ],
  },
  'GET /_auth/forbidden': {
    tag: 'forward-auth',
    summary: 'The "not with this account" page, for nginx',
    description: 'nginx `auth_request` shows its own page for a 403; the nginx example routes that 403 here (verify names this URL in `Location` for a navigation). Renders, for whoever is signed in, the page a Traefik/Caddy-style verify or proxy mode shows itself.',
    session: 'optional',
    query: { rd: 'The address that was refused.' },
    answers: { 403: page('Who is signed in, that this account may not open the address, and a sign-out form that comes back to it.'), 302: redirect('Not signed in: to the login page, with `rd`.') },
    errors: [],
  },
  'GET /_auth/mfa': {
    tag: 'second-factors',
    summary: 'The second-factor page of a pending sign-in',
    answers: { 200: page('The form for a code or a passkey.'), 302: redirect('No pending sign-in: to the login page.') },
    errors: [],
  },
  'POST /_auth/mfa/totp': {
    tag: 'second-factors',
    summary: 'Complete a pending sign-in with an authenticator-app code',
    body: { schema: ref('SecondStep'), form: true },
    answers: { 200: json('Signed in: the token body and the session cookie.', ref('TokenBody')), 303: redirect('A form post: signed in (to `rd`), or back to the login page when the sign-in expired.') },
    errors: ['missing_field', 'invalid_field', 'invalid_code'],
    errorPages: true,
  },
  'POST /_auth/mfa/recovery': {
    tag: 'second-factors',
    summary: 'Complete a pending sign-in with a single-use recovery code',
    body: { schema: ref('SecondStep'), form: true },
    answers: { 200: json('Signed in: the token body and the session cookie.', ref('TokenBody')), 303: redirect('A form post: signed in (to `rd`), or back to the login page when the sign-in expired.') },
    errors: ['missing_field', 'invalid_field', 'invalid_code'],
    errorPages: true,
  },
  'POST /_auth/totp/enroll': {
    tag: 'second-factors',
    summary: 'Start turning on an authenticator app',
    answers: { 200: json('A new secret, its otpauth:// URL and a QR code.', object({ secret: string(), otpauth_url: string(), qr_code: string('A data: URL of a PNG.') })) },
    errors: ['totp_already_enabled'],
  },
  'POST /_auth/totp/confirm': {
    tag: 'second-factors',
    summary: 'Turn the authenticator app on with its first code',
    body: { schema: fields({ code: string() }) },
    answers: { 200: json('TOTP is on: ten recovery codes, shown once.', object({ recovery_codes: { type: 'array', items: string(), minItems: 10, maxItems: 10 } })) },
    errors: ['totp_not_enrolling', 'totp_code_wrong'],
  },
  'POST /_auth/totp/disable': {
    tag: 'second-factors',
    summary: 'Turn the authenticator app off',
    body: { schema: fields({ 'password?': string(undefined, { maxLength: 8192 }), 'code?': string('A current code, instead of the password.') }) },
    answers: { 200: json('TOTP is off.', status('totp_disabled')) },
    errors: ['invalid_field', 'reauthentication_failed'],
  },
  'GET /_auth/password/forgot': {
    tag: 'mail',
    summary: 'The forgotten-password page',
    answers: { 200: page('A form asking for the email address.') },
    errors: [],
  },
  'POST /_auth/password/forgot': {
    tag: 'mail',
    summary: 'Mail a single-use password reset link',
    description: 'Answers 202 whether or not an account uses the address; at most one mail per account every two minutes, and a per-address limit.',
    body: { schema: fields({ email: string(undefined, { maxLength: 320 }) }), form: true },
    answers: { 202: { description: 'Accepted.', json: status('accepted'), html: true } },
    errors: ['missing_field', 'invalid_field', 'too_many_requests'],
  },
  'GET /_auth/password/reset': {
    tag: 'mail',
    summary: 'The page behind a reset link',
    query: tokenQuery,
    answers: { 200: page('A form for the new password.') },
    errors: [],
  },
  'POST /_auth/password/reset': {
    tag: 'mail',
    summary: 'Set a new password with a reset token; ends every session',
    body: { schema: fields({ token: string(), password: string('At least 10 characters.', { maxLength: 8192 }) }), form: true },
    answers: { 200: json('The password is changed.', status('password_changed')), 303: redirect('A form post: to the login page.') },
    errors: ['missing_field', 'invalid_field', 'invalid_input', 'breached_password', 'invalid_token'],
  },
  'GET /_auth/magic-link': {
    tag: 'mail',
    summary: 'The sign-in-by-email page',
    query: rdQuery,
    answers: { 200: page('A form asking for the email address.') },
    errors: [],
  },
  'POST /_auth/magic-link': {
    tag: 'mail',
    summary: 'Mail a single-use sign-in link',
    description: 'Answers 202 whether or not an account uses the address (no enumeration).',
    body: { schema: fields({ email: string(undefined, { maxLength: 320 }), 'rd?': rdField }), form: true },
    answers: { 202: { description: 'Accepted.', json: status('accepted'), html: true } },
    errors: ['missing_field', 'invalid_field', 'too_many_requests'],
  },
  'GET /_auth/magic-link/verify': {
    tag: 'mail',
    summary: 'The page behind a sign-in link: one button, nothing consumed',
    description: 'Link scanners and previews fetch links: this page signs in nothing and uses nothing up (HEAD alike).',
    query: tokenQuery,
    answers: { 200: page('A button that posts the token.'), 400: page('The link is malformed.') },
    errors: [],
  },
  'POST /_auth/magic-link/verify': {
    tag: 'mail',
    summary: 'Sign in with a sign-in link',
    body: { schema: fields({ token: string(undefined, { maxLength: 64 }) }), form: true },
    answers: { 200: signInAnswer, 303: redirect('A form post: signed in (to `rd`) or on to the second-factor page.') },
    errors: ['missing_field', 'invalid_field', 'invalid_token'],
    errorPages: true,
  },
  'GET /_auth/email/verify': {
    tag: 'mail',
    summary: 'Confirm an email address with the mailed link',
    query: tokenQuery,
    answers: { 200: { description: 'Confirmed: a page, or JSON when the client accepts `application/json`.', json: object({ status: { const: 'verified' }, email: string() }), html: true } },
    errors: ['invalid_token', 'email_taken'],
  },
  'POST /_auth/webauthn/register/options': {
    tag: 'passkeys',
    summary: 'Options to create a passkey for the signed-in user',
    answers: { 200: json('Creation options; the challenge is single use and expires.', ref('WebAuthnOptions')) },
    errors: [],
  },
  'POST /_auth/webauthn/register/verify': {
    tag: 'passkeys',
    summary: 'Add the created passkey',
    body: { schema: fields({ response: ref('WebAuthnResponse'), 'name?': string(undefined, { maxLength: 64 }) }) },
    answers: { 201: json('Added.', status('passkey_added')) },
    errors: ['invalid_field', 'passkey_not_registered', 'credential_taken'],
  },
  'POST /_auth/webauthn/login/options': {
    tag: 'passkeys',
    summary: 'Options to sign in with a passkey (username-less, or for a pending sign-in)',
    body: { schema: fields({ 'mfa_token?': string() }), optional: true },
    answers: { 200: json('Request options; the challenge is single use and expires.', ref('WebAuthnOptions')) },
    errors: ['too_many_requests'],
  },
  'POST /_auth/webauthn/login/verify': {
    tag: 'passkeys',
    summary: 'Sign in with a passkey, or complete a pending sign-in with one',
    description: 'Complete by itself only when the authenticator verified the user; as a second step, presence is enough.',
    body: { schema: fields({ response: ref('WebAuthnResponse'), 'mfa_token?': string(), 'rd?': rdField }) },
    answers: { 200: json('Signed in: the token body and the session cookie.', ref('TokenBody')) },
    errors: ['invalid_mfa_token', 'passkey_refused', 'user_verification_required'],
  },
  'GET /_auth/webauthn/credentials': {
    tag: 'passkeys',
    summary: "The caller's passkeys",
    answers: { 200: json('The passkeys.', ref('Passkeys')) },
    errors: [],
  },
  'PATCH /_auth/webauthn/credentials/{id}': {
    tag: 'passkeys',
    summary: 'Rename one of the caller\'s passkeys',
    body: { schema: fields({ name: string(undefined, { maxLength: 64 }) }) },
    answers: { 200: json('Renamed.', status('renamed')) },
    errors: ['missing_field', 'invalid_field', 'not_found'],
  },
  'DELETE /_auth/webauthn/credentials/{id}': {
    tag: 'passkeys',
    summary: 'Remove one of the caller\'s passkeys',
    answers: { 200: json('Removed.', status('deleted')) },
    errors: ['not_found'],
  },
  'GET /_auth/account': {
    tag: 'account',
    summary: 'The account page',
    session: 'optional',
    answers: { 200: page('Profile, password, second factors, passkeys, sessions.'), 302: redirect('Not signed in: to the login page.') },
    errors: [],
  },
  'PATCH /_auth/account': {
    tag: 'account',
    summary: 'Change the display name or the email address',
    description: 'A new email needs the current password (an account without one: a sign-in in the last ten minutes), counts only once confirmed by the mailed link, and the old address is told. At most five changes of address an hour.',
    body: { schema: fields({ 'display_name?': string(undefined, { maxLength: 128 }), 'email?': string(undefined, { maxLength: 320 }), 'current_password?': string(undefined, { maxLength: 8192 }) }) },
    answers: { 200: json('Saved; a new address is pending until confirmed.', object({ status: { const: 'updated' }, 'email_pending?': string() })) },
    errors: ['invalid_field', 'invalid_input', 'reauthentication_failed', 'reauthentication_required', 'too_many_requests', 'email_taken'],
  },
  'DELETE /_auth/account': {
    tag: 'account',
    summary: 'Delete the account, its sessions and credentials',
    body: { schema: fields({ password: string(undefined, { maxLength: 8192 }) }) },
    answers: { 200: json('Deleted; the cookies are cleared.', status('deleted')) },
    errors: ['missing_field', 'invalid_field', 'reauthentication_failed'],
  },
  'POST /_auth/account/password': {
    tag: 'account',
    summary: 'Change the password; every other session ends',
    body: { schema: fields({ current_password: string(undefined, { maxLength: 8192 }), new_password: string('At least 10 characters.', { maxLength: 8192 }) }) },
    answers: { 200: json('Changed; this client gets a new session cookie.', status('password_changed')) },
    errors: ['missing_field', 'invalid_field', 'invalid_input', 'breached_password', 'reauthentication_failed'],
  },
  'GET /_auth/account/sessions': {
    tag: 'account',
    summary: "The caller's own sessions",
    answers: { 200: json('Live sessions; `current` marks the one that asked.', ref('Sessions')) },
    errors: [],
  },
  'DELETE /_auth/account/sessions/{id}': {
    tag: 'account',
    summary: 'End one of the caller\'s own sessions',
    answers: { 200: json('Ended.', status('ended')) },
    errors: ['not_found'],
  },
  'GET /_auth/assets/': {
    tag: 'pages',
    summary: 'The scripts of gatehouse\'s own pages',
    answers: { 200: { description: 'A JavaScript module.', media: { 'text/javascript': string() } } },
    errors: ['not_found'],
  },
  'GET /_auth/account/oidc': {
    tag: 'providers',
    summary: 'The providers linked to the caller\'s account',
    answers: { 200: json('One entry per linked provider.', ref('OidcIdentities')) },
    errors: [],
  },
  'DELETE /_auth/account/oidc/{id}': {
    tag: 'providers',
    summary: 'Unlink a provider from the caller\'s account',
    description: 'Never the account\'s last way to sign in.',
    answers: { 200: json('Unlinked.', status('unlinked')) },
    errors: ['not_found', 'oidc_last_sign_in_method'],
  },
  'GET /_auth/oidc/{id}/start': {
    tag: 'providers',
    summary: 'Start signing in with a provider',
    description: 'The authorization code flow with PKCE; `state` and `nonce` are bound to this browser by a cookie. A refusal is a page saying why. Linking is never started here: any site can send a browser to this address (see `POST /_auth/oidc/{id}/link`).',
    query: { ...rdQuery, link: 'Refused (400 `oidc_link_needs_form`): linking starts from the account page\'s form.' },
    answers: { 302: redirect('To the provider\'s authorization endpoint.') },
    errors: [],
    pageErrors: ['oidc_unknown_provider', 'oidc_link_needs_form', 'too_many_requests', 'oidc_provider_unreachable'],
  },
  'POST /_auth/oidc/{id}/link': {
    tag: 'providers',
    summary: 'Start linking a provider to the signed-in account (the account page\'s form)',
    description: 'A form with the page\'s CSRF token, so that no other site can start a link. Needs a sign-in of the last ten minutes; without one (or without a session), to the login page, and from there back to the account page. The callback then links the identity and returns to the account page.',
    session: 'optional',
    body: { schema: fields({}), form: 'only' },
    answers: { 303: redirect('To the provider\'s authorization endpoint; or, without a recent sign-in, to the login page.') },
    errors: [],
    pageErrors: ['oidc_unknown_provider', 'too_many_requests', 'oidc_provider_unreachable'],
  },
  'GET /_auth/oidc/{id}/callback': {
    tag: 'providers',
    summary: 'Where the provider sends the browser back',
    description: 'The state, the code and the ID token are checked; then a sign-in (the first one may create the account), or the link the start asked for. A refusal is a page saying why, and a log line with the reason.',
    session: 'optional',
    query: { state: 'From the start.', code: 'The authorization code.', error: 'The provider\'s refusal, instead of a code.' },
    answers: { 303: redirect('Signed in: to `rd`, or on to the second-factor page when the provider requires the local one. Linked: to `rd`.') },
    errors: [],
    pageErrors: [
      'oidc_unknown_provider',
      'oidc_state_invalid',
      'oidc_provider_error',
      'oidc_token_invalid',
      'oidc_token_expired',
      'oidc_email_unverified',
      'oidc_domain_not_allowed',
      'oidc_group_not_allowed',
      'oidc_registration_closed',
      'oidc_account_disabled',
      'oidc_email_in_use',
      'oidc_already_linked',
      'identity_taken',
      'oidc_provider_unreachable',
    ],
  },
  'POST /_auth/oidc/backchannel-logout': {
    tag: 'providers',
    summary: 'A provider\'s session ended: end the sessions that came from it',
    description: 'OpenID Connect Back-Channel Logout 1.0, posted by the provider (so a form needs no CSRF token). Ends the sessions signed in through that provider session (`sid`), or every one of the person\'s through that provider (`sub` alone); 200 also when none is live.',
    body: { schema: fields({ logout_token: string('A logout token (a JWT) signed by a configured provider.', { maxLength: 16_384 }) }), form: 'without-csrf' },
    answers: { 200: json('Accepted; the sessions are ended.', status('logged_out')) },
    errors: ['missing_field', 'invalid_field', 'oidc_logout_token_invalid'],
  },
  'GET /_auth/admin': {
    tag: 'administration',
    summary: 'The admin page: find people, and one person\'s groups, factors, lock-out, sessions and recent events',
    session: 'optional',
    query: {
      query: 'Part of the username or email address.',
      group: 'Only members of this group.',
      cursor: 'Where the list goes on (the page\'s "More people" link), as in GET /_auth/admin/users.',
      user: 'The id of the person to show.',
      notice: 'What the last action did (a key the page names).',
      error: 'Why the last action was refused (a code of the catalogue).',
    },
    answers: {
      200: page('The page.'),
      302: redirect('Not signed in: to the login page.'),
      403: page('Not an administrator: who is signed in, and a way to switch account.'),
    },
    errors: ['invalid_field'],
  },
  'POST /_auth/admin': {
    tag: 'administration',
    summary: 'An action of the admin page',
    description: 'The same rules as the JSON API. A refused action comes back to the page with `error`.',
    body: {
      schema: fields({
        action: { enum: ['add_group', 'remove_group', 'disable', 'enable', 'delete', 'unban', 'reset_factors', 'revoke_session', 'revoke_sessions', 'add_user', 'invite'] },
        'user?': string('The id of the person acted on (every action but add_user and invite).', { maxLength: 128 }),
        'group?': string('add_group, remove_group.', { maxLength: 64 }),
        'session?': string('revoke_session: one of the person\'s sessions.', { maxLength: 128 }),
        'confirm?': string('delete: `yes`, the ticked box.'),
        'username?': string('add_user.', { maxLength: 256 }),
        'email?': string('add_user, invite.', { maxLength: 320 }),
        'groups?': string('add_user, invite: comma-separated group names.', { maxLength: 4000 }),
      }),
      form: 'only',
    },
    answers: {
      200: page('add_user and invite: the page, showing the new single-use link once.'),
      303: redirect('Back to the page, with `notice` (done) or `error` (refused), and the person acted on.'),
    },
    errors: ['missing_field', 'invalid_field'],
  },
  'GET /_auth/admin/users': {
    tag: 'administration',
    summary: 'Find users, by username order',
    query: { query: 'Part of the username or email address.', group: 'Only members of this group.', ...pageQuery },
    answers: { 200: json('One page of users.', ref('AdminUsers')) },
    errors: ['invalid_field'],
  },
  'POST /_auth/admin/users': {
    tag: 'administration',
    summary: 'Add a user',
    description: 'The address counts as confirmed (an administrator set it). Without a password, the answer holds a single-use link (valid seven days) where the person sets one.',
    body: { schema: fields({ username: string(undefined, { maxLength: 256 }), 'email?': string(undefined, { maxLength: 320 }), 'groups?': { type: 'array', items: string(), maxItems: 50 }, 'password?': string('At least 10 characters.', { maxLength: 8192 }) }) },
    answers: { 201: json('Added.', ref('AdminNewUser')) },
    errors: ['missing_field', 'invalid_field', 'invalid_input', 'breached_password', 'username_taken', 'email_taken'],
  },
  'GET /_auth/admin/users/{id}': {
    tag: 'administration',
    summary: 'One user: profile, groups, second factors, lock-out and live sessions',
    answers: { 200: json('The user.', ref('AdminUserDetails')) },
    errors: ['user_not_found'],
  },
  'PATCH /_auth/admin/users/{id}': {
    tag: 'administration',
    summary: 'Disable or enable a user',
    description: 'Disabling ends every session of the user; never the last enabled administrator.',
    body: { schema: fields({ disabled: { type: 'boolean' } }) },
    answers: { 200: json('The user as it is now.', ref('AdminUser')) },
    errors: ['missing_field', 'invalid_field', 'user_not_found', 'last_admin'],
  },
  'DELETE /_auth/admin/users/{id}': {
    tag: 'administration',
    summary: 'Delete a user, their sessions and credentials',
    description: 'Never the last enabled administrator.',
    answers: { 204: noBody('Deleted.') },
    errors: ['user_not_found', 'last_admin'],
  },
  'POST /_auth/admin/users/{id}/unban': {
    tag: 'administration',
    summary: 'Lift the lock-out that failed sign-ins put on a user',
    answers: { 204: noBody('Lifted (or there was none).') },
    errors: ['user_not_found'],
  },
  'DELETE /_auth/admin/users/{id}/factors': {
    tag: 'administration',
    summary: 'Remove a user\'s TOTP, recovery codes and passkeys',
    answers: { 204: noBody('Removed.') },
    errors: ['user_not_found'],
  },
  'PUT /_auth/admin/users/{id}/groups/{group}': {
    tag: 'administration',
    summary: 'Add a user to a group (`admins`: make them an administrator)',
    description: 'Idempotent. A group name has 1 to 64 of A-Z, a-z, 0-9, `.`, `_`, `-`.',
    answers: { 204: noBody('The user is in the group.') },
    errors: ['invalid_field', 'user_not_found'],
  },
  'DELETE /_auth/admin/users/{id}/groups/{group}': {
    tag: 'administration',
    summary: 'Remove a user from a group',
    description: 'Idempotent; never the last enabled administrator from `admins`.',
    answers: { 204: noBody('The user is not in the group.') },
    errors: ['invalid_field', 'user_not_found', 'last_admin'],
  },
  'GET /_auth/admin/groups': {
    tag: 'administration',
    summary: 'The groups that have members, by name',
    query: pageQuery,
    answers: { 200: json('One page of groups, each with its number of members.', ref('AdminGroups')) },
    errors: ['invalid_field'],
  },
  'GET /_auth/admin/sessions': {
    tag: 'administration',
    summary: 'Live sessions, newest first',
    query: { user: 'Only this user\'s (an id).', ...pageQuery },
    answers: { 200: json('One page of sessions.', ref('AdminSessions')) },
    errors: ['invalid_field', 'user_not_found'],
  },
  'DELETE /_auth/admin/sessions/{id}': {
    tag: 'administration',
    summary: 'End a live session',
    description: 'At once on this instance, within `trust_window` everywhere.',
    answers: { 204: noBody('Ended.') },
    errors: ['session_not_found'],
  },
  'POST /_auth/admin/invites': {
    tag: 'administration',
    summary: 'Make a single-use invitation link to register',
    description: 'The link registers whatever `registration` says, into `groups`; with `email`, only that address, as confirmed.',
    body: { schema: fields({ 'email?': string(undefined, { maxLength: 320 }), 'groups?': { type: 'array', items: string(), maxItems: 50 }, 'ttl?': string('How long the link lives, 1h to 30d (default 7d).', { maxLength: 32 }) }) },
    answers: { 201: json('The link (to the registration page).', ref('Invite')) },
    errors: ['invalid_field', 'invalid_input'],
  },
  'GET /_auth/admin/audit': {
    tag: 'administration',
    summary: 'The audit log, newest first',
    query: { user: 'Only events about this user (an id).', type: 'Only events of this type, such as `login_failed`.', since: 'Only events since: a duration back (`1h`, `7d`) or an ISO 8601 time.', ...pageQuery },
    answers: { 200: json('One page of events.', ref('AuditEvents')) },
    errors: ['invalid_field'],
  },
};
