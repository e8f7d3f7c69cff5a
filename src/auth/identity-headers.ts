/**
 * Identity headers (SPEC section 5). Strip, then set: every header gatehouse could
 * set, and by default those of the proxies people migrate from, is removed from
 * the client's request in any spelling before ours are added. Names are compared
 * normalised (lower case, `_` and `.` as `-`) because CGI, PHP and WSGI upstreams
 * fold those characters together.
 */
import { HOP_BY_HOP } from '../upstream/headers.js';
import { METHOD_OVERRIDE_HEADERS } from './method-override.js';
import type { AccessClaims } from './tokens.js';

export type IdentityPreset = 'x-auth' | 'remote';

export const IDENTITY_HEADERS: Record<IdentityPreset, { user: string; id: string; email: string; groups: string; name?: string }> = {
  'x-auth': { user: 'x-auth-user', id: 'x-auth-user-id', email: 'x-auth-email', groups: 'x-auth-groups' },
  remote: { user: 'remote-user', id: 'remote-user-id', email: 'remote-email', groups: 'remote-groups', name: 'remote-name' },
};

/** oauth2-proxy's and Authelia's identity headers: an upstream that trusted them must not become spoofable. */
export const MIGRATION_HEADERS = [
  'x-forwarded-user',
  'x-forwarded-email',
  'x-forwarded-groups',
  'x-forwarded-preferred-username',
  'x-forwarded-access-token',
  'x-auth-request-*',
  'remote-*',
];

export const normalizeHeaderName = (name: string) => name.toLowerCase().replace(/[_.]/g, '-');

/**
 * A predicate over header names: true for every name that must not reach the upstream
 * from a client. Besides identity headers, that is the hop-by-hop headers, the
 * X-Forwarded-* headers, which gatehouse sets itself, and the method-override
 * headers, which would make the upstream run another method than the one judged.
 */
export function strippedHeaders(preset: IdentityPreset, extra: readonly string[]): (name: string) => boolean {
  const ours = [...Object.values(IDENTITY_HEADERS['x-auth']), ...Object.values(IDENTITY_HEADERS[preset]), ...HOP_BY_HOP, 'x-forwarded-*', ...METHOD_OVERRIDE_HEADERS];
  const names = [...ours, ...extra].map(normalizeHeaderName);
  const exact = new Set(names.filter((name) => !name.endsWith('*')));
  const prefixes = names.filter((name) => name.endsWith('*')).map((name) => name.slice(0, -1));
  const known = new Map<string, boolean>();
  return (name) => {
    let stripped = known.get(name);
    if (stripped === undefined) {
      const normalized = normalizeHeaderName(name);
      stripped = exact.has(normalized) || prefixes.some((prefix) => normalized.startsWith(prefix));
      // Header names repeat from request to request; remember a bounded number of answers.
      if (known.size < 4096) known.set(name, stripped);
    }
    return stripped;
  };
}

/** Per verified-token claims object: the token cache hands out the same object on every hit. */
const computed = new WeakMap<AccessClaims, Map<IdentityPreset, readonly [string, string][]>>();
const ANONYMOUS = new Map<IdentityPreset, readonly [string, string][]>();

/** The identity headers of a caller; every one present, empty when unknown (Caddy 2.6 needs them all). */
export function identityHeaders(preset: IdentityPreset, claims: AccessClaims | undefined): readonly [string, string][] {
  let byPreset = claims ? computed.get(claims) : ANONYMOUS;
  if (!byPreset) computed.set(claims!, (byPreset = new Map()));
  let headers = byPreset.get(preset);
  if (!headers) byPreset.set(preset, (headers = headersOf(IDENTITY_HEADERS[preset], claims)));
  return headers;
}

function headersOf(names: (typeof IDENTITY_HEADERS)[IdentityPreset], claims: AccessClaims | undefined): [string, string][] {
  const headers: [string, string][] = [
    [names.user, headerSafe(claims?.username)],
    [names.id, claims?.sub ?? ''],
    [names.email, headerSafe(confirmedEmail(claims))],
    [names.groups, claims ? claims.groups.map(groupSafe).join(',') : ''],
  ];
  if (names.name) headers.push([names.name, headerSafe(claims?.username)]);
  return headers;
}

/** The address only when the token says it is confirmed: tokens signed before the claim existed carry any address. */
export const confirmedEmail = (claims: AccessClaims | undefined) => (claims?.email_verified === true ? claims.email : null);

/** One group of the comma-separated list: a comma inside a name is encoded too. */
const groupSafe = (group: string) => (/^[\x20-\x2b\x2d-\x7e]*$/.test(group) ? group : encodeURIComponent(group));

/** Header values are Latin-1 on the wire; anything else is percent-encoded rather than mangled. */
function headerSafe(value: string | null | undefined): string {
  if (!value) return '';
  return /^[\x20-\x7e]*$/.test(value) ? value : encodeURIComponent(value);
}
