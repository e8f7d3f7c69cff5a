/**
 * The JSON Schemas (2020-12, as OpenAPI 3.1 takes them) of gatehouse's request and
 * answer bodies, and small builders that keep the operation table short.
 */
export type Schema = Record<string, unknown>;

export const ref = (name: string): Schema => ({ $ref: `#/components/schemas/${name}` });

/**
 * An object whose listed properties are required unless their name ends in `?`. Closed:
 * answers carry nothing undescribed. Request bodies use `fields`, open, since
 * handlers ignore fields they do not know (and a form adds `csrf`).
 */
export function object(properties: Record<string, Schema>, { open = false } = {}): Schema {
  const props: Record<string, Schema> = {};
  const required: string[] = [];
  for (const [key, schema] of Object.entries(properties)) {
    const name = key.endsWith('?') ? key.slice(0, -1) : key;
    if (name === key) required.push(name);
    props[name] = schema;
  }
  return { type: 'object', properties: props, ...(required.length > 0 && { required }), ...(!open && { additionalProperties: false }) };
}

export const fields = (properties: Record<string, Schema>): Schema => object(properties, { open: true });

export const string = (description?: string, extra: Schema = {}): Schema => ({ type: 'string', ...(description && { description }), ...extra });
export const nullable = (schema: Schema): Schema => ({ ...schema, type: [schema['type'], 'null'] });
export const dateTime = (description?: string): Schema => string(description, { format: 'date-time' });
/** `{"status":"<value>"}`, the answer of actions that return nothing else. */
export const status = (...values: string[]): Schema => object({ status: { enum: values } });

/** A field that a form sends as text and JSON as a boolean. */
export const flag = (description: string): Schema => ({ description, oneOf: [{ type: 'boolean' }, { enum: ['true', 'false'] }] });
export const csrfField: Schema = string('The CSRF token of the page the form came from; it must equal the gatehouse_csrf cookie.');
export const rdField = string('Where to go afterwards; followed only when safe (SPEC section 5), else `/`.');

const deviceField = string('Browser and OS from the user agent at sign-in, e.g. "Chrome 131 on Linux"; "unknown" when none.');
const addressField = nullable(string('The client address at sign-in.'));
const nextCursor = nullable(string('Opaque: pass as `cursor` for the next page; null on the last page.'));
/** A list page of the admin API: `{"<name>":[…],"next_cursor"}`. */
const listPage = (name: string, items: Schema): Schema => object({ [name]: { type: 'array', items }, next_cursor: nextCursor });

/** A user as every admin answer shows one (SPEC section 11). */
const ADMIN_USER: Record<string, Schema> = {
  id: string(),
  username: string(),
  email: nullable(string()),
  email_verified: { type: 'boolean' },
  display_name: nullable(string()),
  groups: { type: 'array', items: string() },
  disabled: { type: 'boolean' },
  created_at: dateTime(),
};
const LINK: Record<string, Schema> = { url: string('Single use.', { format: 'uri' }), expires_at: dateTime() };

export const COMPONENT_SCHEMAS: Record<string, Schema> = {
  Error: {
    type: 'object',
    description: 'Every JSON error answer. Some carry more (`login_url`, `reason`).',
    properties: {
      error: ref('ErrorCode'),
      message: string('A sentence safe to show a person.'),
      login_url: string('Where a person signs in.'),
      reason: string('Why the presented credentials were not accepted.'),
    },
    required: ['error', 'message'],
  },
  TokenBody: object(
    {
      access_token: string('A JWT signed with a key from /_auth/jwks.json; lives `trust_window`.'),
      refresh_token: string('Opaque, single use: rotated on every refresh.'),
      token_type: { const: 'Bearer' },
      expires_in: { type: 'integer', minimum: 1, description: 'Seconds the access token lives.' },
      'redirect_to?': string('Where a page script should go next (the sign-in\'s `rd`, judged safe).'),
    },
  ),
  MfaRequired: object({
    mfa_required: { const: true },
    mfa_token: string('Names the pending sign-in for the second step; it authenticates nothing by itself.'),
    methods: { type: 'array', items: { enum: ['totp', 'recovery', 'webauthn'] } },
  }),
  SignInResult: { oneOf: [ref('TokenBody'), ref('MfaRequired')] },
  UserInfo: object({
    id: string('Stable: apps should key on this.'),
    username: string(),
    email: nullable(string('Only a confirmed address.', { format: 'email' })),
    email_verified: { type: 'boolean' },
    groups: { type: 'array', items: string() },
    session_id: string(),
    expires_at: dateTime('When the access token that answered expires.'),
  }),
  Jwks: {
    type: 'object',
    properties: { keys: { type: 'array', items: { type: 'object', properties: { kid: string(), kty: string(), alg: string() }, required: ['kid', 'kty'] } } },
    required: ['keys'],
  },
  Credentials: fields({
    username: string('The username or the email address.', { maxLength: 320 }),
    password: string(undefined, { maxLength: 8192 }),
    'rd?': rdField,
  }),
  Registration: fields({
    username: string(undefined, { maxLength: 256 }),
    password: string('At least 10 characters.', { maxLength: 8192 }),
    'email?': string(undefined, { format: 'email', maxLength: 320 }),
    'invite?': string('The token of an invitation link: registers whatever `registration` says, with its groups (and only its address, when it names one).', { maxLength: 64 }),
    'rd?': rdField,
  }),
  RefreshTokenBody: fields({ 'refresh_token?': string('Or the session cookie.', { maxLength: 512 }) }),
  Logout: fields({ 'refresh_token?': string(undefined, { maxLength: 512 }), 'all?': flag('End every session of the user.'), 'rd?': string('A form: where the sign-in that follows should lead (judged safe).') }),
  SecondStep: fields({ 'mfa_token?': string('From the login answer (a form uses the cookie set by the login).'), code: string(undefined, { maxLength: 64 }) }),
  WebAuthnResponse: { type: 'object', description: 'A PublicKeyCredential serialised as JSON (WebAuthn Level 3, toJSON()).', properties: { id: string(), type: { const: 'public-key' } }, required: ['id'] },
  WebAuthnOptions: { type: 'object', description: 'PublicKeyCredential creation or request options in JSON form.', properties: { challenge: string() }, required: ['challenge'] },
  Sessions: object({
    sessions: {
      type: 'array',
      items: object({ id: string(), device: deviceField, address: addressField, created_at: dateTime(), last_used_at: dateTime(), current: { type: 'boolean' } }),
    },
  }),
  AdminUser: object(ADMIN_USER),
  AdminUsers: listPage('users', ref('AdminUser')),
  AdminNewUser: object({ ...ADMIN_USER, 'invite?': { ...object(LINK), description: 'Without a password: a link to the password-reset page, where the person sets one.' } }),
  AdminUserDetails: object({
    ...ADMIN_USER,
    factors: object({ password: { type: 'boolean' }, totp: { type: 'boolean' }, recovery_codes: { type: 'integer', minimum: 0 }, passkeys: { type: 'integer', minimum: 0 } }),
    banned_until: nullable(dateTime('Until when sign-ins are refused after failed guesses; null when they are not.')),
    sessions: { type: 'array', items: ref('AdminSession') },
  }),
  AdminSession: object({ id: string(), user: object({ id: string(), username: string() }), device: deviceField, address: addressField, created_at: dateTime(), last_used_at: dateTime() }),
  AdminSessions: listPage('sessions', ref('AdminSession')),
  AdminGroups: listPage('groups', object({ name: string(), members: { type: 'integer', minimum: 1 } })),
  Invite: object(LINK),
  AuditEvents: listPage(
    'events',
    object({
      id: { type: 'integer', minimum: 1 },
      at: dateTime(),
      type: string('Such as `login_failed` or `user_disabled`.'),
      user: nullable(object({ id: string(), username: nullable(string()) })),
      actor: { oneOf: [object({ kind: { enum: ['user', 'admin'] }, id: string(), username: string() }), object({ kind: { enum: ['cli', 'system'] } })] },
      address: nullable(string()),
      details: { type: 'object', description: 'What the event type records beside.' },
    }),
  ),
  OidcIdentities: object({
    identities: {
      type: 'array',
      items: object({ provider: string('The provider id.'), name: string(), email: nullable(string('The address the provider vouched for at the last sign-in.')), linked_at: dateTime(), last_used_at: nullable(dateTime()) }),
    },
  }),
  Passkeys: object({
    passkeys: {
      type: 'array',
      items: object({ id: string(), name: string(), created_at: dateTime(), last_used_at: nullable(dateTime()) }),
    },
  }),
};

/** The identity headers a 200 from /_auth/verify carries (the `x-auth` preset; with `identity_headers: remote`, Remote-*). */
export const IDENTITY_HEADER_DOCS: Record<string, string> = {
  'X-Auth-User': 'The username.',
  'X-Auth-User-Id': 'The stable user id: key on this.',
  'X-Auth-Email': 'The confirmed address, or empty.',
  'X-Auth-Groups': 'Comma-separated groups.',
};
