/**
 * Logout tokens of OpenID Connect Back-Channel Logout 1.0 (section 2.6): a JWT from
 * a configured provider, signed with a key of its JWKS, for our client, recent, with
 * the back-channel logout event, naming a session (`sid`) or a person (`sub`), and
 * never a `nonce` (which would make it an ID token passed off as a logout token).
 */
import { createRemoteJWKSet, decodeJwt, jwtVerify, type JWTPayload } from 'jose';
import type { Clock } from '../clock.js';
import type { Logger } from '../log.js';
import { ProviderFailure, type ProviderClients } from './client.js';
import type { OidcProvider } from './settings.js';

const EVENT = 'http://schemas.openid.net/event/backchannel-logout';
/** How old (by `iat`) a logout token may be: it is sent the moment the provider's session ends. */
const MAX_AGE = '5m';

export interface Logout {
  provider: OidcProvider;
  issuer: string;
  subject?: string;
  sid?: string;
}

/** What is wrong with the claims of a signature-checked logout token, if anything (section 2.6, steps 4-6). */
export function logoutClaimsProblem(payload: JWTPayload): string | undefined {
  const events = payload['events'];
  const event = typeof events === 'object' && events !== null ? (events as Record<string, unknown>)[EVENT] : undefined;
  if (typeof event !== 'object' || event === null || Array.isArray(event)) return 'no_logout_event';
  const hasSub = typeof payload.sub === 'string' && payload.sub !== '';
  const hasSid = typeof payload['sid'] === 'string' && payload['sid'] !== '';
  if (!hasSub && !hasSid) return 'neither_sub_nor_sid';
  if ('nonce' in payload) return 'nonce_present';
  return undefined;
}

export class LogoutTokens {
  /** The provider's key set, fetched (and refreshed on an unknown kid) by jose. */
  #keys = new Map<string, ReturnType<typeof createRemoteJWKSet>>();

  constructor(private readonly deps: { clients: ProviderClients; clock: Clock; log: Logger }) {}

  /** The logout the token asks for; throws oidc_logout_token_invalid with the reason. */
  async verify(token: string): Promise<Logout> {
    const invalid = (reason: string) => new ProviderFailure('oidc_logout_token_invalid', reason);
    let claims: JWTPayload;
    try {
      claims = decodeJwt(token);
    } catch {
      throw invalid('not_a_jwt');
    }
    const { iss: issuer } = claims;
    const provider = typeof issuer === 'string' ? await this.#providerOf(issuer, claims.aud) : undefined;
    if (!provider) throw invalid('unknown_issuer');
    const metadata = await this.deps.clients.metadata(provider);
    try {
      const { payload } = await jwtVerify(token, this.#keySet(provider, metadata.jwks_uri!), {
        issuer: issuer as string,
        audience: provider.client_id,
        algorithms: metadata.id_token_signing_alg_values_supported ?? ['RS256'],
        currentDate: new Date(this.deps.clock.now()),
        maxTokenAge: MAX_AGE,
        clockTolerance: 30,
      });
      const problem = logoutClaimsProblem(payload);
      if (problem) throw invalid(problem);
      return { provider, issuer: issuer as string, ...(payload.sub && { subject: payload.sub }), ...(typeof payload['sid'] === 'string' && { sid: payload['sid'] }) };
    } catch (error) {
      if (error instanceof ProviderFailure) throw error;
      const { code = 'unverifiable', claim } = error as { code?: string; claim?: string };
      throw invalid(claim ? `${code}: ${claim}` : code);
    }
  }

  /**
   * The OpenID Connect provider whose discovered issuer is `issuer` (GitHub sends no logout
   * tokens): of several entries with one issuer (two clients), the one the token's (not yet
   * verified) audience names; else the first, whose checks then refuse the token.
   */
  async #providerOf(issuer: string, audience: unknown): Promise<OidcProvider | undefined> {
    const audiences: unknown[] = Array.isArray(audience) ? audience : [audience];
    let first: OidcProvider | undefined;
    for (const provider of this.deps.clients.providers) {
      if (provider.github) continue;
      try {
        if ((await this.deps.clients.metadata(provider)).issuer !== issuer) continue;
      } catch {
        // A provider that cannot be reached just now cannot be the sender.
        continue;
      }
      if (audiences.includes(provider.client_id)) return provider;
      first ??= provider;
    }
    return first;
  }

  #keySet(provider: OidcProvider, jwksUri: string) {
    let keys = this.#keys.get(provider.id);
    if (!keys) this.#keys.set(provider.id, (keys = createRemoteJWKSet(new URL(jwksUri))));
    return keys;
  }
}
