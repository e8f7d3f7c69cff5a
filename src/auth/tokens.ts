/**
 * The only module that uses jose: signing keys, access tokens and their verification.
 * Verification pins everything the server chose (algorithm, key set, issuer,
 * audience, type, required claims) because jose's defaults accept far more.
 */
import * as jose from 'jose';
import type { Clock } from '../clock.js';
import type { SigningKey, Store } from '../store/types.js';

export const ALG = 'EdDSA';
/** RFC 9068 access-token type, so an ID token or any other JWT of ours is never taken for one. */
export const TOKEN_TYPE = 'at+jwt';
/** Far above any token we sign (about 600 bytes), far below anything that could hurt to parse. */
export const MAX_TOKEN_BYTES = 4096;
/** How often instances look for keys added by `gatehouse keys rotate`. */
export const KEY_RELOAD_MS = 10_000;
const UNKNOWN_KID_RELOAD_MS = 5_000;
const EMBEDDED_KEY_HEADERS = ['jwk', 'jku', 'x5u', 'x5c', 'x5t', 'x5t#S256'];

export interface AccessClaims {
  sub: string;
  sid: string;
  username: string;
  /** Only a confirmed address (SPEC section 5); null until the owner has proven it. */
  email: string | null;
  /** Absent from tokens signed before it existed: read as false. */
  email_verified?: boolean;
  groups: string[];
  iat: number;
  exp: number;
  jti: string;
}

export class TokenInvalid extends Error {
  constructor(readonly code: string) {
    super(code);
  }
}

export async function generateSigningKey(now: number): Promise<SigningKey> {
  const { publicKey, privateKey } = await jose.generateKeyPair(ALG, { crv: 'Ed25519', extractable: true });
  const publicJwk = await jose.exportJWK(publicKey);
  const kid = await jose.calculateJwkThumbprint(publicJwk);
  return {
    kid,
    alg: ALG,
    privateJwk: JSON.stringify(await jose.exportJWK(privateKey)),
    publicJwk: JSON.stringify({ ...publicJwk, kid, alg: ALG, use: 'sig' }),
    createdAt: now,
  };
}

interface LoadedKey {
  kid: string;
  publicJwk: jose.JWK;
  verifyKey: CryptoKey | Uint8Array;
}

/**
 * The signing keys as this instance knows them: it signs with the newest and
 * accepts every key that may still have a live token. A key replaced at time T
 * signed its last token by T + KEY_RELOAD_MS, which is valid until
 * T + KEY_RELOAD_MS + trust_window; after that it leaves the JWKS.
 */
export class KeyRing {
  #signing?: { kid: string; key: CryptoKey | Uint8Array };
  #published: LoadedKey[] = [];
  #byKid = new Map<string, LoadedKey>();
  #lastLoad = 0;
  #kidReload?: Promise<void>;

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly trustWindowMs: number,
  ) {}

  get loaded(): boolean {
    return this.#signing !== undefined;
  }

  /** Creates the first key on an empty database (once, even with racing replicas), then loads. */
  async init(): Promise<void> {
    if ((await this.store.listSigningKeys()).length === 0) {
      await this.store.addSigningKey(await generateSigningKey(this.clock.now()), { onlyIfNone: true });
    }
    await this.reload();
  }

  async reload(): Promise<void> {
    const now = this.clock.now();
    this.#lastLoad = now;
    const keys = await this.store.listSigningKeys();
    const newest = keys.at(-1);
    if (!newest) return;
    const live = keys.filter((_key, i) => {
      const replacedAt = keys[i + 1]?.createdAt;
      return replacedAt === undefined || replacedAt + KEY_RELOAD_MS + this.trustWindowMs > now;
    });
    const loaded = await Promise.all(
      live.map(async (key) => {
        const publicJwk = JSON.parse(key.publicJwk) as jose.JWK;
        return { kid: key.kid, publicJwk, verifyKey: await jose.importJWK(publicJwk, ALG) };
      }),
    );
    this.#signing = { kid: newest.kid, key: await jose.importJWK(JSON.parse(newest.privateJwk) as jose.JWK, ALG) };
    this.#published = loaded;
    this.#byKid = new Map(loaded.map((key) => [key.kid, key]));
  }

  jwks(): { keys: jose.JWK[] } {
    return { keys: this.#published.map((key) => key.publicJwk) };
  }

  signingKey(): { kid: string; key: CryptoKey | Uint8Array } {
    if (!this.#signing) throw new Error('signing keys are not loaded');
    return this.#signing;
  }

  /** A kid we do not know may be a key another instance just started using: look again, rarely. */
  async verificationKey(kid: string | undefined): Promise<CryptoKey | Uint8Array> {
    if (kid === undefined) throw new TokenInvalid('token_kid_missing');
    let key = this.#byKid.get(kid);
    if (!key && !this.#kidReload && this.clock.now() - this.#lastLoad > UNKNOWN_KID_RELOAD_MS) {
      this.#kidReload = this.reload().finally(() => (this.#kidReload = undefined));
    }
    if (!key && this.#kidReload) {
      // A burst of tokens from a new key all wait for the one reload, rather than only the first passing.
      await this.#kidReload;
      key = this.#byKid.get(kid);
    }
    if (!key) throw new TokenInvalid('token_key_unknown');
    return key.verifyKey;
  }
}

export interface TokenSettings {
  issuer: string;
  audience: string;
  lifetimeMs: number;
}

export class AccessTokens {
  constructor(
    private readonly keys: KeyRing,
    private readonly clock: Clock,
    private readonly settings: TokenSettings,
  ) {}

  async sign(claims: Omit<AccessClaims, 'iat' | 'exp' | 'jti'>): Promise<{ token: string; claims: AccessClaims }> {
    const iat = Math.floor(this.clock.now() / 1000);
    const full: AccessClaims = { ...claims, iat, exp: iat + Math.floor(this.settings.lifetimeMs / 1000), jti: crypto.randomUUID() };
    const { kid, key } = this.keys.signingKey();
    const token = await new jose.SignJWT({ ...full })
      .setProtectedHeader({ alg: ALG, kid, typ: TOKEN_TYPE })
      .setIssuer(this.settings.issuer)
      .setAudience(this.settings.audience)
      .sign(key);
    return { token, claims: full };
  }

  /** The claims of a valid token, or TokenInvalid with a code saying why not. */
  async verify(token: string): Promise<AccessClaims> {
    if (token.length > MAX_TOKEN_BYTES) throw new TokenInvalid('token_too_large');
    let header: jose.ProtectedHeaderParameters;
    try {
      header = jose.decodeProtectedHeader(token);
    } catch {
      throw new TokenInvalid('token_malformed');
    }
    if (EMBEDDED_KEY_HEADERS.some((name) => name in header)) throw new TokenInvalid('token_embedded_key');
    try {
      const { payload } = await jose.jwtVerify(token, (h) => this.keys.verificationKey(h.kid), {
        algorithms: [ALG],
        issuer: this.settings.issuer,
        audience: this.settings.audience,
        typ: TOKEN_TYPE,
        requiredClaims: ['exp', 'iat', 'sub', 'sid', 'jti'],
        currentDate: new Date(this.clock.now()),
      });
      return checkClaimTypes(payload);
    } catch (error) {
      if (error instanceof TokenInvalid) throw error;
      const code = (error as { code?: string }).code;
      throw new TokenInvalid(code === 'ERR_JWT_EXPIRED' ? 'token_expired' : 'token_invalid');
    }
  }
}

function checkClaimTypes(payload: jose.JWTPayload): AccessClaims {
  const { sub, sid, username, email, email_verified, groups, iat, exp, jti } = payload as Record<string, unknown>;
  const valid =
    typeof sub === 'string' &&
    typeof sid === 'string' &&
    typeof username === 'string' &&
    (email === null || typeof email === 'string') &&
    (email_verified === undefined || typeof email_verified === 'boolean') &&
    Array.isArray(groups) &&
    groups.every((group) => typeof group === 'string') &&
    typeof iat === 'number' &&
    typeof exp === 'number' &&
    typeof jti === 'string';
  if (!valid) throw new TokenInvalid('token_claims_invalid');
  return payload as unknown as AccessClaims;
}
