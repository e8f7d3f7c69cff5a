/**
 * Every error a client can receive, in one catalogue: a stable `code` for tests
 * and programs, its HTTP status, and a default message that is safe to show.
 * Anything else that is thrown is a bug, answered as a generic 500 without details.
 */
const catalogue = <T extends Record<string, { status: number; message: string }>>(errors: T) => errors;

export const ERRORS = catalogue({
  // The request itself
  invalid_target: { status: 400, message: 'The request URL is malformed.' },
  ambiguous_path: { status: 400, message: 'The path is not in canonical form.' },
  invalid_encoding: { status: 400, message: 'The body is not valid UTF-8.' },
  invalid_json: { status: 400, message: 'The body is not valid JSON.' },
  missing_field: { status: 400, message: 'A required field is missing.' },
  invalid_field: { status: 400, message: 'A field has the wrong type or length.' },
  invalid_input: { status: 400, message: 'The input is not valid.' },
  not_found: { status: 404, message: 'There is nothing at this address.' },
  method_not_allowed: { status: 405, message: 'This method is not allowed here.' },
  body_too_large: { status: 413, message: 'The request body is too large.' },
  unsupported_media_type: { status: 415, message: 'Send application/json or application/x-www-form-urlencoded.' },
  internal_error: { status: 500, message: 'Something went wrong on our side.' },
  store_unavailable: { status: 503, message: 'The database cannot be reached just now; please try again shortly.' },
  too_many_requests: { status: 429, message: 'Too many requests from this address; try again later.' },
  origin_forbidden: { status: 403, message: 'This request came from another site.' },
  csrf_failed: { status: 403, message: 'This form has expired. Please try again.' },

  // Forward-auth: the original request behind a verify call
  missing_forwarded_request: { status: 400, message: 'A verify call needs X-Forwarded-Uri or X-Original-URL.' },
  conflicting_forwarded_headers: { status: 400, message: 'Send X-Forwarded-* or X-Original-*, not both.' },
  duplicate_forwarded_header: { status: 400, message: 'A forwarding header was sent more than once.' },
  missing_original_method: { status: 400, message: 'X-Original-URL needs X-Original-Method beside it.' },
  invalid_original_url: { status: 400, message: 'X-Original-URL must be an absolute http(s) URL.' },
  invalid_forwarded_method: { status: 400, message: 'The forwarded method is not valid.' },
  invalid_forwarded_proto: { status: 400, message: 'The forwarded scheme must be http or https.' },
  invalid_forwarded_host: { status: 400, message: 'The forwarded host must be a host name, optionally followed by :port (1-65535).' },
  missing_forwarded_method: { status: 400, message: 'X-Forwarded-Uri needs X-Forwarded-Method beside it.' },
  invalid_forwarded_uri: { status: 400, message: 'The forwarded URI is not valid.' },
  untrusted_proxy: { status: 403, message: 'Forwarded headers from this address are not trusted; add it to trusted_proxies.' },

  // The gate
  invalid_host: { status: 400, message: 'The Host header must be a host name, optionally followed by :port (1-65535).' },
  invalid_method_override: { status: 400, message: 'A method-override header must name one HTTP method.' },
  duplicate_method_override: { status: 400, message: 'Send at most one method-override header.' },
  unauthenticated: { status: 401, message: 'Sign in first.' },
  forbidden: { status: 403, message: 'Your account may not open this page.' },
  upstream_unreachable: { status: 502, message: 'The application could not be reached.' },
  upstream_timeout: { status: 504, message: 'The application did not answer in time.' },

  // Sign-in, sessions and registration
  invalid_credentials: { status: 401, message: 'The username or password is wrong.' },
  email_not_verified: { status: 403, message: 'Please confirm your email address first; we sent you a link.' },
  refresh_token_missing: { status: 401, message: 'Send a refresh_token, or the refresh cookie.' },
  refresh_token_invalid: { status: 401, message: 'The session has ended; please sign in again.' },
  email_required: { status: 400, message: 'Registration here needs your email address.' },
  registration_domain_not_allowed: { status: 403, message: 'Registration here is open only to addresses of certain domains.' },
  registration_closed: { status: 403, message: 'Registration is closed; ask an administrator for an account.' },
  username_taken: { status: 409, message: 'That username is already taken.' },
  email_taken: { status: 409, message: 'That email is already taken.' },
  breached_password: { status: 400, message: 'This password appears in known data breaches; please choose another.' },

  // Second factors and passkeys
  invalid_code: { status: 401, message: 'That code is wrong, used already, or the sign-in has expired.' },
  invalid_mfa_token: { status: 400, message: 'The sign-in has expired; please start again.' },
  totp_already_enabled: { status: 400, message: 'TOTP is already on; turn it off first to enrol again.' },
  totp_not_enrolling: { status: 400, message: 'Start enrolment first.' },
  totp_code_wrong: { status: 400, message: 'That code is not right; check the time on your device.' },
  passkey_not_registered: { status: 400, message: 'The passkey could not be registered.' },
  passkey_refused: { status: 401, message: 'The passkey could not be verified.' },
  user_verification_required: { status: 401, message: 'This passkey did not verify you (PIN or biometrics); sign in with your password first.' },
  credential_taken: { status: 409, message: 'This passkey is registered already.' },

  // The account
  reauthentication_failed: { status: 401, message: 'The current password is wrong.' },
  reauthentication_required: { status: 403, message: 'Please sign in again first.' },
  invalid_token: { status: 400, message: 'This link is invalid, expired or already used.' },

  // Signing in with another identity provider (SPEC section 12)
  oidc_unknown_provider: { status: 404, message: 'There is no such sign-in provider.' },
  oidc_link_needs_form: { status: 400, message: 'Linking a provider starts from the Link button on your account page.' },
  oidc_state_invalid: { status: 400, message: 'This sign-in has expired, was used already, or was started in another browser; please start again.' },
  oidc_provider_error: { status: 400, message: 'The identity provider refused the sign-in; please start again.' },
  oidc_token_invalid: { status: 400, message: 'The answer of the identity provider could not be verified; please start again.' },
  oidc_token_expired: { status: 400, message: 'The answer of the identity provider has expired; please start again.' },
  oidc_email_unverified: { status: 403, message: 'Your identity provider has not confirmed your email address.' },
  oidc_domain_not_allowed: { status: 403, message: 'Sign-in with this provider is open only to addresses of certain domains.' },
  oidc_group_not_allowed: { status: 403, message: 'Your account at the identity provider is in none of the groups allowed here.' },
  oidc_registration_closed: { status: 403, message: 'There is no account here for this sign-in, and none is created automatically; ask an administrator.' },
  oidc_email_in_use: {
    status: 409,
    message: 'An account with this email address exists already. Sign in to it the usual way, then link this provider from your account page.',
  },
  oidc_account_disabled: { status: 403, message: 'This account is disabled.' },
  oidc_already_linked: { status: 409, message: 'Your account is linked to another identity at this provider already; unlink that one first.' },
  identity_taken: { status: 409, message: 'This identity is already linked to another account.' },
  oidc_last_sign_in_method: { status: 409, message: 'This is the only way to sign in to your account; set a password or add a passkey first.' },
  oidc_provider_unreachable: { status: 502, message: 'The identity provider could not be reached; please try again shortly.' },
  oidc_logout_token_invalid: { status: 400, message: 'The logout token is not valid.' },

  // Administration
  admin_required: { status: 403, message: 'Only administrators may do this.' },
  user_not_found: { status: 404, message: 'There is no such user.' },
  last_admin: { status: 409, message: 'That would leave no enabled administrator.' },
  session_not_found: { status: 404, message: 'There is no such live session.' },
  invite_invalid: { status: 403, message: 'This invitation is invalid, expired or already used.' },
});

export type ErrorCode = keyof typeof ERRORS;

export class HttpError extends Error {
  readonly status: number;

  constructor(
    readonly code: ErrorCode,
    message: string = ERRORS[code].message,
  ) {
    super(message);
    this.name = 'HttpError';
    this.status = ERRORS[code].status;
  }
}

/** The error for `code`, with its catalogued status; `message` when the default says too little. */
export const fail = (code: ErrorCode, message?: string) => new HttpError(code, message);

