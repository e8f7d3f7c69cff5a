/**
 * The only module that talks to identity providers (openid-client 6, a certified
 * relying party): discovery, the authorization URL, the code exchange with PKCE
 * and the ID token checks its discovery document calls for, the userinfo; and for
 * GitHub, which has no OpenID Connect, OAuth 2 and its user and email APIs.
 * Every failure becomes a catalogued error with a reason for the log.
 */
import * as oidc from 'openid-client';
import type { Clock } from '../clock.js';
import { HttpError, type ErrorCode } from '../errors.js';
import type { Logger } from '../log.js';
import type { GitHubEndpoints } from './presets.js';
import type { OidcProvider } from './settings.js';

/** What a provider told us about the person, once every check has passed. */
export interface ProviderAnswer {
  /** The `iss` of the ID token (Entra ID: the person's own tenant); GitHub: its web URL. */
  issuer: string;
  subject: string;
  /** Only an address the provider vouches for (email_verified; GitHub: the verified primary one). */
  verifiedEmail: string | null;
  /** Any address it gave, vouched for or not: never stored, compared or linked to; only the log's reason names its absence. */
  email: string | null;
  /** A name to derive a username from. */
  username: string | null;
  claims: Record<string, unknown>;
  /** The provider's session, for back-channel logout. */
  sid: string | null;
}

export interface FlowSecrets {
  state: string;
  nonce: string;
  verifier: string;
}

/** A refusal with the reason the log gets (never shown to the client). */
export class ProviderFailure extends HttpError {
  constructor(
    code: ErrorCode,
    readonly reason: string,
  ) {
    super(code);
  }
}

const TIMEOUT_S = 10;
/** openid-client's own tolerance for ID token times. */
const CLOCK_TOLERANCE_MS = 30_000;

export const newFlowSecrets = (): Omit<FlowSecrets, 'state'> => ({ nonce: oidc.randomNonce(), verifier: oidc.randomPKCECodeVerifier() });

export class ProviderClients {
  /** Discovery once per provider; a failed one is forgotten so that the next sign-in tries again. */
  #configs = new Map<string, Promise<oidc.Configuration>>();

  constructor(private readonly deps: { providers: readonly OidcProvider[]; publicUrl: string; clock: Clock; log: Logger }) {}

  get providers(): readonly OidcProvider[] {
    return this.deps.providers;
  }

  find(id: string | undefined): OidcProvider | undefined {
    return this.deps.providers.find((provider) => provider.id === id);
  }

  redirectUri(provider: OidcProvider): string {
    return `${this.deps.publicUrl}/_auth/oidc/${provider.id}/callback`;
  }

  async authorizationUrl(provider: OidcProvider, secrets: FlowSecrets): Promise<string> {
    const config = await this.configuration(provider);
    const parameters: Record<string, string> = {
      redirect_uri: this.redirectUri(provider),
      scope: provider.scopes.join(' '),
      state: secrets.state,
      code_challenge: await oidc.calculatePKCECodeChallenge(secrets.verifier),
      code_challenge_method: 'S256',
    };
    if (!provider.github) parameters['nonce'] = secrets.nonce;
    return oidc.buildAuthorizationUrl(config, parameters).href;
  }

  /** The code of `callback` exchanged and every answer checked; throws ProviderFailure. */
  async exchange(provider: OidcProvider, callback: URL, secrets: FlowSecrets): Promise<ProviderAnswer> {
    const config = await this.configuration(provider);
    try {
      const checks = { pkceCodeVerifier: secrets.verifier, expectedState: secrets.state };
      if (provider.github) {
        const tokens = await oidc.authorizationCodeGrant(config, callback, checks);
        return await githubAnswer(provider.github, tokens.access_token);
      }
      const tokens = await oidc.authorizationCodeGrant(config, callback, { ...checks, expectedNonce: secrets.nonce, idTokenExpected: true });
      const claims = tokens.claims()!;
      // Checked on gatehouse's clock too: the session it starts runs on that clock.
      if (claims.exp * 1000 + CLOCK_TOLERANCE_MS < this.deps.clock.now()) throw new ProviderFailure('oidc_token_expired', 'id_token_expired');
      const userinfo = config.serverMetadata().userinfo_endpoint ? await oidc.fetchUserInfo(config, tokens.access_token, claims.sub) : {};
      return oidcAnswer({ ...userinfo, ...claims } as Record<string, unknown>);
    } catch (error) {
      throw classify(error);
    }
  }

  /** The discovered metadata of an OpenID Connect provider (for back-channel logout tokens). */
  async metadata(provider: OidcProvider): Promise<oidc.ServerMetadata> {
    return (await this.configuration(provider)).serverMetadata();
  }

  configuration(provider: OidcProvider): Promise<oidc.Configuration> {
    let config = this.#configs.get(provider.id);
    if (!config) {
      config = this.#discover(provider).catch((error: unknown) => {
        this.#configs.delete(provider.id);
        throw classify(error);
      });
      this.#configs.set(provider.id, config);
    }
    return config;
  }

  async #discover(provider: OidcProvider): Promise<oidc.Configuration> {
    if (provider.github) {
      const { authorization, token } = provider.github;
      // GitHub wants the secret in the form body.
      const server = { issuer: githubIssuer(provider.github), authorization_endpoint: authorization, token_endpoint: token };
      const config = new oidc.Configuration(server, provider.client_id, undefined, oidc.ClientSecretPost(provider.clientSecret));
      if (provider.insecure_http) oidc.allowInsecureRequests(config);
      config.timeout = TIMEOUT_S;
      return config;
    }
    const options = { execute: provider.insecure_http ? [oidc.allowInsecureRequests] : [], timeout: TIMEOUT_S };
    const issuer = new URL(provider.issuer!);
    let config = await oidc.discovery(issuer, provider.client_id, undefined, oidc.ClientSecretBasic(provider.clientSecret), options);
    // Basic authentication is the default of OpenID Connect; a provider may offer only the form body.
    const methods = config.serverMetadata().token_endpoint_auth_methods_supported;
    if (methods && !methods.includes('client_secret_basic') && methods.includes('client_secret_post')) {
      config = await oidc.discovery(issuer, provider.client_id, undefined, oidc.ClientSecretPost(provider.clientSecret), options);
    }
    this.deps.log.info('oidc_provider_discovered', { provider: provider.id, issuer: config.serverMetadata().issuer });
    return config;
  }
}

/** GitHub's "issuer": its web address, the namespace of its numeric user ids. */
export const githubIssuer = (github: GitHubEndpoints) => new URL(github.authorization).origin;

function oidcAnswer(claims: Record<string, unknown>): ProviderAnswer {
  const email = typeof claims['email'] === 'string' ? claims['email'] : null;
  const name = [claims['preferred_username'], claims['nickname'], email?.split('@')[0], claims['name']].find((value) => typeof value === 'string' && value !== '');
  return {
    issuer: String(claims['iss']),
    subject: String(claims['sub']),
    email,
    // Only `true` itself: a provider that says nothing about it has not vouched for it (Entra ID).
    verifiedEmail: email !== null && claims['email_verified'] === true ? email : null,
    username: (name as string | undefined) ?? null,
    claims,
    sid: typeof claims['sid'] === 'string' ? claims['sid'] : null,
  };
}

interface GitHubEmail {
  email: string;
  primary: boolean;
  verified: boolean;
}

/** GitHub's user (its numeric id is the identity: logins can be renamed) and its verified primary address. */
async function githubAnswer(github: GitHubEndpoints, accessToken: string): Promise<ProviderAnswer> {
  const headers = { authorization: `Bearer ${accessToken}`, accept: 'application/vnd.github+json', 'user-agent': 'gatehouse' };
  const get = async (url: string) => {
    const res = await fetch(url, { headers, signal: AbortSignal.timeout(TIMEOUT_S * 1000), redirect: 'error' });
    if (!res.ok) throw new ProviderFailure(res.status >= 500 ? 'oidc_provider_unreachable' : 'oidc_provider_error', `github_api_${res.status}`);
    return res.json() as Promise<unknown>;
  };
  const user = (await get(github.user)) as { id?: unknown; login?: unknown };
  if (typeof user.id !== 'number' || !Number.isSafeInteger(user.id)) throw new ProviderFailure('oidc_provider_error', 'github_user_without_id');
  const emails = await get(github.emails);
  const primary = Array.isArray(emails) ? (emails as GitHubEmail[]).find((entry) => entry?.primary === true && typeof entry.email === 'string') : undefined;
  return {
    issuer: githubIssuer(github),
    subject: String(user.id),
    email: primary?.email ?? null,
    verifiedEmail: primary?.verified === true ? primary.email : null,
    username: typeof user.login === 'string' ? user.login : null,
    claims: { ...user },
    sid: null,
  };
}

/** Every failure of a provider exchange as a catalogued error with a reason for the log. */
export function classify(error: unknown): ProviderFailure {
  if (error instanceof ProviderFailure) return error;
  if (error instanceof oidc.ResponseBodyError) return new ProviderFailure(error.status >= 500 ? 'oidc_provider_unreachable' : 'oidc_provider_error', `token_endpoint_${error.error}`);
  if (error instanceof oidc.AuthorizationResponseError) return new ProviderFailure('oidc_provider_error', `authorization_${error.error}`);
  if (error instanceof oidc.ClientError) return clientFailure(error);
  // fetch failed: refused, reset, timed out, DNS.
  if (error instanceof TypeError || (error instanceof DOMException && (error.name === 'TimeoutError' || error.name === 'AbortError'))) {
    return new ProviderFailure('oidc_provider_unreachable', `unreachable: ${(error as Error).cause instanceof Error ? ((error as Error).cause as Error).message : (error as Error).message}`);
  }
  return new ProviderFailure('oidc_provider_unreachable', `unexpected: ${error instanceof Error ? error.message : String(error)}`);
}

function clientFailure(error: oidc.ClientError): ProviderFailure {
  const cause = error.cause as { claim?: unknown; attribute?: unknown; status?: unknown } | undefined;
  switch (error.code) {
    case 'OAUTH_JWT_TIMESTAMP_CHECK_FAILED':
      return new ProviderFailure('oidc_token_expired', `id_token_${String(cause?.claim ?? 'time')}`);
    case 'OAUTH_JWT_CLAIM_COMPARISON_FAILED':
      return new ProviderFailure('oidc_token_invalid', `id_token_${String(cause?.claim ?? 'claim')}_mismatch`);
    case 'OAUTH_JSON_ATTRIBUTE_COMPARISON_FAILED':
      // At discovery: the issuer configured is not the one the provider names.
      return new ProviderFailure(cause?.attribute === 'issuer' ? 'oidc_provider_unreachable' : 'oidc_token_invalid', `${String(cause?.attribute ?? 'attribute')}_mismatch`);
    case 'OAUTH_RESPONSE_IS_NOT_CONFORM':
    case 'OAUTH_RESPONSE_IS_NOT_JSON':
      return new ProviderFailure('oidc_provider_unreachable', `provider_answered_${String((cause as { status?: unknown })?.status ?? 'badly')}`);
    case 'OAUTH_INVALID_RESPONSE': {
      // One code for many checks; the library's message says which (RFC 9207 `iss` is the mix-up defence).
      const detail = error.cause instanceof Error ? error.cause.message : error.message;
      if (detail.includes('"iss"')) return new ProviderFailure('oidc_token_invalid', 'iss_mismatch');
      if (detail.includes('"state"')) return new ProviderFailure('oidc_state_invalid', 'state_mismatch');
      // GitHub answers a refused code with HTTP 200 and an error body: there is no access token.
      return new ProviderFailure('oidc_provider_error', `invalid_response: ${detail}`);
    }
    default:
      return new ProviderFailure('oidc_token_invalid', `${error.code ?? 'client_error'}: ${error.message}`);
  }
}
