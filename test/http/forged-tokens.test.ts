/**
 * Forged, tampered and malformed access tokens, presented over a real socket to
 * GET /_auth/userinfo as a bearer token and as the access cookie. Every one must
 * be a 401 with a JSON error naming the check that refused it; controls built
 * with the very same helpers must pass, so a refusal is never an accident of
 * how the forgery was made.
 */
import { createHmac, createPublicKey, type JsonWebKey as NodeJwk } from 'node:crypto';
import { request } from 'node:http';
import * as jose from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerUser, startTestGatehouse, type TestGatehouse, type TokenBody } from '../helpers/gatehouse.js';

let gate: TestGatehouse;
/** Another gatehouse with its own database and so its own signing key, and the same issuer. */
let other: TestGatehouse;
let user: TokenBody & { username: string };
let stranger: TokenBody & { username: string };
let claims: Record<string, unknown>;
let serverKid: string;
let serverJwk: jose.JWK;
let attacker: { privateKey: CryptoKey; publicJwk: jose.JWK };

beforeAll(async () => {
  [gate, other] = await Promise.all([startTestGatehouse(), startTestGatehouse()]);
  user = await registerUser(gate);
  // The same username on the other instance: only the key tells the tokens apart.
  stranger = await registerUser(other, user.username);
  claims = jose.decodeJwt(user.access_token);
  serverKid = jose.decodeProtectedHeader(user.access_token).kid!;
  const jwks = (await (await fetch(`${gate.url}/_auth/jwks.json`)).json()) as { keys: jose.JWK[] };
  serverJwk = jwks.keys.find((key) => key.kid === serverKid)!;
  const pair = await jose.generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true });
  attacker = { privateKey: pair.privateKey, publicJwk: await jose.exportJWK(pair.publicKey) };
});
afterAll(async () => {
  await Promise.all([gate.close(), other.close()]);
});

interface Answer {
  status: number;
  contentType: string;
  body: { error?: unknown; reason?: unknown };
  setCookie: string[];
}

/**
 * GET /_auth/userinfo with the header values sent as their UTF-8 bytes, so a
 * non-ASCII forgery reaches the server byte for byte instead of failing in the client.
 */
function userinfo(on: TestGatehouse, headers: Record<string, string>): Promise<Answer> {
  const raw = Object.fromEntries(Object.entries(headers).map(([name, value]) => [name, Buffer.from(value, 'utf8').toString('latin1')]));
  return new Promise((resolve, reject) => {
    const req = request(`${on.url}/_auth/userinfo`, { headers: raw }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let body: Answer['body'] = {};
        try {
          body = JSON.parse(text) as Answer['body'];
        } catch {
          body = { error: undefined, reason: `not JSON: ${text.slice(0, 200)}` };
        }
        resolve({ status: res.statusCode!, contentType: String(res.headers['content-type']), body, setCookie: res.headers['set-cookie'] ?? [] });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
/** The session cookie carries `access~refresh`; these carry an access token and no refresh token. */
const accessCookie = (token: string) => ({ cookie: `gatehouse_session=${token}` });

const b64u = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
const parts = (token: string) => token.split('.') as [string, string, string];
const nowSeconds = () => Math.floor(gate.clock.now() / 1000);

type Fields = Record<string, unknown>;
/** The header and claims of a token the server itself would issue, with `change` applied (undefined removes a field). */
const header = (change: Fields = {}): Fields => ({ alg: 'EdDSA', kid: serverKid, typ: 'at+jwt', ...change });
const payload = (change: Fields = {}): Fields => ({ ...claims, ...change });

function sign(key: CryptoKey | Uint8Array, head: Fields, body: Fields, crit?: Record<string, boolean>): Promise<string> {
  return new jose.CompactSign(new TextEncoder().encode(JSON.stringify(body)))
    .setProtectedHeader(head as jose.CompactJWSHeaderParameters)
    .sign(key, crit && { crit });
}

/** Signed with the server's own private key: only the changed field can be the reason for a refusal. */
const serverSigned = (change: { header?: Fields; claims?: Fields; crit?: Record<string, boolean> } = {}) =>
  sign(gate.services.keys.signingKey().key, header(change.header), payload(change.claims), change.crit);

/** Signed with an Ed25519 key the server has never seen, under the server's kid unless the header says otherwise. */
const attackerSigned = (headerChange: Fields = {}) => sign(attacker.privateKey, header(headerChange), payload());

/** An HS256 token whose HMAC secret is something public about the server's key; jose will not build these. */
function hmacSigned(secret: Buffer | string): string {
  const input = `${b64u(header({ alg: 'HS256' }))}.${b64u(payload())}`;
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
}

const hmacSecrets: Record<string, () => Buffer | string> = {
  "the raw bytes of the public key's x": () => Buffer.from(serverJwk.x!, 'base64url'),
  "the public key's x as text": () => serverJwk.x!,
  'the public JWK as JSON text': () => JSON.stringify(serverJwk),
  'the public key as SPKI PEM': () => createPublicKey({ key: serverJwk as NodeJwk, format: 'jwk' }).export({ type: 'spki', format: 'pem' }),
};

const unsecured = (alg: string) => `${b64u({ alg, typ: 'at+jwt', kid: serverKid })}.${b64u(payload())}.`;

function tamperedPayload(token: string, change: Fields): string {
  const [head, body, signature] = parts(token);
  return `${head}.${b64u({ ...JSON.parse(Buffer.from(body, 'base64url').toString('utf8')), ...change })}.${signature}`;
}

function flippedSignatureByte(token: string): string {
  const [head, body, signature] = parts(token);
  const bytes = Buffer.from(signature, 'base64url');
  bytes[bytes.length >> 1]! ^= 0x01;
  return `${head}.${body}.${bytes.toString('base64url')}`;
}

const padding = (bytes: number) => 'p'.repeat(bytes);

interface Forgery {
  name: string;
  token: () => string | Promise<string>;
  /** The `reason` userinfo gives: which check refused the token. */
  reason: string;
}

const forgeries: Forgery[] = [
  ...['none', 'None', 'NONE', 'nOnE'].map((alg) => ({ name: `an unsigned token with alg "${alg}"`, token: () => unsecured(alg), reason: 'token_invalid' })),
  ...Object.entries(hmacSecrets).map(([what, secret]) => ({ name: `an HS256 token keyed with ${what}`, token: () => hmacSigned(secret()), reason: 'token_invalid' })),

  { name: 'a token whose username and groups were changed after signing', token: () => tamperedPayload(user.access_token, { username: 'admin', groups: ['admins'] }), reason: 'token_invalid' },
  { name: 'a token whose sub was changed after signing', token: () => tamperedPayload(user.access_token, { sub: crypto.randomUUID() }), reason: 'token_invalid' },
  { name: 'a token whose exp was pushed back after signing', token: () => tamperedPayload(user.access_token, { exp: nowSeconds() + 86_400 }), reason: 'token_invalid' },
  { name: 'a token with one signature bit flipped', token: () => flippedSignatureByte(user.access_token), reason: 'token_invalid' },
  { name: 'a token with its header swapped for one naming HS256', token: () => `${b64u(header({ alg: 'HS256' }))}.${parts(user.access_token)[1]}.${parts(user.access_token)[2]}`, reason: 'token_invalid' },

  { name: 'a token signed by another gatehouse for the same username', token: () => stranger.access_token, reason: 'token_key_unknown' },
  { name: "a token signed by an attacker's key under the server's kid", token: () => attackerSigned(), reason: 'token_invalid' },
  { name: "a token signed by an attacker's key with no kid", token: () => attackerSigned({ kid: undefined }), reason: 'token_kid_missing' },
  { name: "a token carrying the attacker's public key in jwk", token: () => attackerSigned({ jwk: attacker.publicJwk }), reason: 'token_embedded_key' },
  { name: "a token carrying the attacker's public key in jwk and no kid", token: () => attackerSigned({ jwk: attacker.publicJwk, kid: undefined }), reason: 'token_embedded_key' },
  { name: 'a token pointing at a key set with jku', token: () => attackerSigned({ jku: 'https://evil.example/jwks.json' }), reason: 'token_embedded_key' },
  { name: 'a token pointing at a certificate with x5u', token: () => attackerSigned({ x5u: 'https://evil.example/cert.pem' }), reason: 'token_embedded_key' },
  { name: 'a token carrying a certificate chain in x5c', token: () => attackerSigned({ x5c: ['MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAu1SU1LfVLPHCozMxH2Mo'] }), reason: 'token_embedded_key' },

  { name: 'a server-signed token with an unknown critical header', token: () => serverSigned({ header: { crit: ['exp2'], exp2: 1 }, crit: { exp2: true } }), reason: 'token_invalid' },
  { name: 'a server-signed token without exp', token: () => serverSigned({ claims: { exp: undefined } }), reason: 'token_invalid' },
  { name: 'a server-signed token without sub', token: () => serverSigned({ claims: { sub: undefined } }), reason: 'token_invalid' },
  { name: 'a server-signed token without sid', token: () => serverSigned({ claims: { sid: undefined } }), reason: 'token_invalid' },
  { name: 'a server-signed token without iat', token: () => serverSigned({ claims: { iat: undefined } }), reason: 'token_invalid' },
  { name: 'a server-signed token without jti', token: () => serverSigned({ claims: { jti: undefined } }), reason: 'token_invalid' },
  { name: 'a server-signed token without username', token: () => serverSigned({ claims: { username: undefined } }), reason: 'token_claims_invalid' },
  { name: 'a server-signed token whose groups is a string', token: () => serverSigned({ claims: { groups: 'admins' } }), reason: 'token_claims_invalid' },
  { name: 'a server-signed token whose sub is a number', token: () => serverSigned({ claims: { sub: 1 } }), reason: 'token_claims_invalid' },
  { name: 'a server-signed token whose email_verified is a string', token: () => serverSigned({ claims: { email_verified: 'true' } }), reason: 'token_claims_invalid' },
  { name: 'a server-signed token from another issuer', token: () => serverSigned({ claims: { iss: 'https://evil.example' } }), reason: 'token_invalid' },
  { name: 'a server-signed token for another audience', token: () => serverSigned({ claims: { aud: 'https://evil.example' } }), reason: 'token_invalid' },
  { name: 'a server-signed token of type JWT', token: () => serverSigned({ header: { typ: 'JWT' } }), reason: 'token_invalid' },
  { name: 'a server-signed token without typ', token: () => serverSigned({ header: { typ: undefined } }), reason: 'token_invalid' },
  { name: 'a server-signed token without kid', token: () => serverSigned({ header: { kid: undefined } }), reason: 'token_kid_missing' },
  { name: 'a server-signed token that expired a second ago', token: () => serverSigned({ claims: { iat: nowSeconds() - 301, exp: nowSeconds() - 1 } }), reason: 'token_expired' },
  { name: 'a server-signed token that expires this very second', token: () => serverSigned({ claims: { iat: nowSeconds() - 300, exp: nowSeconds() } }), reason: 'token_expired' },
  { name: 'a server-signed token not valid before a minute from now', token: () => serverSigned({ claims: { nbf: nowSeconds() + 60 } }), reason: 'token_invalid' },
  { name: 'a server-signed token over 4096 bytes (10 KB of padding)', token: () => serverSigned({ claims: { padding: padding(10_240) } }), reason: 'token_too_large' },

  { name: 'a token missing its last character', token: () => user.access_token.slice(0, -1), reason: 'token_invalid' },
  { name: 'a token with an empty signature part', token: () => `${parts(user.access_token).slice(0, 2).join('.')}.`, reason: 'token_invalid' },
  { name: 'a token of only two parts', token: () => parts(user.access_token).slice(0, 2).join('.'), reason: 'token_malformed' },
  { name: 'a token of four parts', token: () => `${user.access_token}.${parts(user.access_token)[2]}`, reason: 'token_malformed' },
  { name: 'a header that is JSON but not an object', token: () => `${b64u('"EdDSA"')}.${b64u(payload())}.`, reason: 'token_malformed' },
  { name: 'the refresh token', token: () => user.refresh_token, reason: 'token_malformed' },
  { name: 'three dots', token: () => '...', reason: 'token_malformed' },
  { name: '"a.b.c"', token: () => 'a.b.c', reason: 'token_malformed' },
  { name: 'one base64url part', token: () => b64u(header()), reason: 'token_malformed' },
];

/** Values that are not even shaped like a token: as a bearer the header parser refuses them, in the cookie the verifier does. */
const garbage: (Forgery & { cookieReason: string })[] = [
  { name: 'an empty token', token: () => '', reason: 'authorization_malformed', cookieReason: 'no_session' },
  { name: 'non-base64 characters', token: () => '!!!.@@@.###', reason: 'authorization_malformed', cookieReason: 'token_malformed' },
  { name: 'unicode', token: () => '🔑.ünïcödé.tøkén', reason: 'authorization_malformed', cookieReason: 'token_malformed' },
  { name: 'broken percent-encoding', token: () => '%E0%A4%A', reason: 'authorization_malformed', cookieReason: 'token_malformed' },
  { name: 'a token with a space inside', token: () => user.access_token.replace('.', ' .'), reason: 'authorization_malformed', cookieReason: 'token_invalid' },
];

const authorizations: { name: string; authorization: () => string; reason: string }[] = [
  { name: '"Bearer" with no token', authorization: () => 'Bearer', reason: 'authorization_malformed' },
  { name: 'Basic credentials', authorization: () => 'Basic xyz', reason: 'authorization_malformed' },
  { name: 'Basic credentials that encode a token', authorization: () => `Basic ${user.access_token}`, reason: 'authorization_malformed' },
  { name: 'a doubled "Bearer Bearer"', authorization: () => `Bearer Bearer ${user.access_token}`, reason: 'authorization_malformed' },
  { name: 'an empty value', authorization: () => '', reason: 'authorization_malformed' },
];

function expectRefused(answer: Answer, reason: string) {
  expect(answer.status).toBe(401);
  expect(answer.contentType).toMatch(/^application\/json/);
  expect(answer.body).toMatchObject({ error: 'unauthenticated', reason });
  expect(answer.setCookie).toEqual([]);
}

describe('the controls, built with the same helpers as the forgeries', () => {
  it('accepts the access token the server issued, as a bearer and as the cookie', async () => {
    for (const headers of [bearer(user.access_token), accessCookie(user.access_token)]) {
      const answer = await userinfo(gate, headers);
      expect(answer.status).toBe(200);
      expect(answer.body).toMatchObject({ username: user.username, id: claims['sub'], session_id: claims['sid'] });
    }
  });

  it('accepts a token the test signs with the server key when nothing is changed', async () => {
    expect((await userinfo(gate, bearer(await serverSigned()))).status).toBe(200);
  });

  it('accepts the largest server-signed token of at most 4096 bytes and refuses the next larger one as too large', async () => {
    let bytes = 2_500;
    while ((await serverSigned({ claims: { padding: padding(bytes + 1) } })).length <= 4_096) bytes += 1;
    const largest = await serverSigned({ claims: { padding: padding(bytes) } });
    const tooLarge = await serverSigned({ claims: { padding: padding(bytes + 1) } });
    expect(largest.length).toBeGreaterThanOrEqual(4_094);
    expect(tooLarge.length).toBeGreaterThan(4_096);
    expect((await userinfo(gate, bearer(largest))).status).toBe(200);
    expectRefused(await userinfo(gate, bearer(tooLarge)), 'token_too_large');
  });

  it("accepts the other gatehouse's token on that gatehouse", async () => {
    expect((await userinfo(other, bearer(stranger.access_token))).status).toBe(200);
  });

  it('builds HS256 forgeries that are valid HMAC tokens for their secret', async () => {
    for (const secret of Object.values(hmacSecrets)) {
      const key = Buffer.from(secret());
      await expect(jose.compactVerify(hmacSigned(key), key, { algorithms: ['HS256'] })).resolves.toBeTruthy();
    }
  });

  it("builds attacker tokens that are valid under the attacker's key", async () => {
    const key = await jose.importJWK(attacker.publicJwk, 'EdDSA');
    await expect(jose.jwtVerify(await attackerSigned({ jwk: attacker.publicJwk }), key, { typ: 'at+jwt' })).resolves.toBeTruthy();
  });

  it('builds tokens over 4096 bytes for the size check', async () => {
    expect((await serverSigned({ claims: { padding: padding(10_240) } })).length).toBeGreaterThan(10_240);
  });
});

describe('forged tokens as a bearer', () => {
  it.each([...forgeries, ...garbage])('refuses $name with 401 and reason $reason', async ({ token, reason }) => {
    expectRefused(await userinfo(gate, bearer(await token())), reason);
  });

  it.each(authorizations)('refuses an Authorization header of $name with 401', async ({ authorization, reason }) => {
    expectRefused(await userinfo(gate, { authorization: authorization() }), reason);
  });

  it('keeps trusting the genuine token after every forgery was refused', async () => {
    expect((await userinfo(gate, bearer(user.access_token))).status).toBe(200);
  });
});

describe('forged tokens as the access token of the session cookie, without a refresh token', () => {
  it.each(forgeries)('refuses $name with 401 and reason $reason', async ({ token, reason }) => {
    expectRefused(await userinfo(gate, accessCookie(await token())), reason);
  });

  it.each(garbage)('refuses $name with 401 and reason $cookieReason', async ({ token, cookieReason }) => {
    expectRefused(await userinfo(gate, accessCookie(await token())), cookieReason);
  });
});
