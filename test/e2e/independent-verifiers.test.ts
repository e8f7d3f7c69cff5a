/**
 * Programs that share no code with gatehouse check what it produces: PyJWT
 * verifies an access token against the published JWKS, and argon2-cffi (over
 * libargon2) verifies a stored password hash. If gatehouse only agrees with
 * itself, these fail.
 */
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PASSWORD, postJson, registerUser, startTestGatehouse, uniqueName, type TestGatehouse, type TokenBody } from '../helpers/gatehouse.js';
import { PYTHON, pythonModule } from '../helpers/peers.js';

const pyjwt = pythonModule('jwt, cryptography', 'python3-jwt python3-cryptography');
const argon2cffi = pythonModule('argon2', 'python3-argon2');

/** Runs a Python script with `input` as JSON on stdin and returns what it printed as JSON. Async: the server under test shares this event loop. */
function python(script: string, input: unknown): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const child = spawn(PYTHON, ['-c', script], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`python exited ${code}: ${stderr}`));
      try {
        resolve(JSON.parse(stdout) as Record<string, unknown>);
      } catch {
        reject(new Error(`python printed no JSON: ${stdout} ${stderr}`));
      }
    });
    child.stdin.end(JSON.stringify(input));
  });
}

/** Fetches the JWKS itself, picks the key by the token's kid, and verifies with everything pinned. */
const VERIFY_WITH_PYJWT = `
import json, sys, urllib.request
import jwt
args = json.load(sys.stdin)
with urllib.request.urlopen(args["jwks_url"]) as res:
    content_type = res.headers.get("content-type")
    published = json.load(res)
jwks = jwt.PyJWKSet.from_dict(published)
try:
    kid = jwt.get_unverified_header(args["token"])["kid"]
    key = next(k for k in jwks.keys if k.key_id == kid)
    alg = next(k for k in published["keys"] if k["kid"] == kid)["alg"]
    claims = jwt.decode(
        args["token"], key.key, algorithms=["EdDSA"], audience=args["audience"], issuer=args["issuer"],
        options={"require": ["exp", "iat", "iss", "aud", "sub"]},
    )
    print(json.dumps({"ok": True, "claims": claims, "content_type": content_type, "kid": kid, "alg": alg}))
except Exception as error:
    print(json.dumps({"ok": False, "error": type(error).__name__, "message": str(error)}))
`;

const VERIFY_WITH_ARGON2_CFFI = `
import json, sys
import argon2
args = json.load(sys.stdin)
try:
    argon2.PasswordHasher().verify(args["hash"], args["password"])
    print(json.dumps({"ok": True}))
except Exception as error:
    print(json.dumps({"ok": False, "error": type(error).__name__, "message": str(error)}))
`;

let gate: TestGatehouse;
let user: TokenBody & { username: string };
beforeAll(async () => {
  gate = await startTestGatehouse();
  user = await registerUser(gate);
});
afterAll(() => gate.close());

/** public_url is the default http://localhost:4180; its origin is both issuer and audience. */
const ORIGIN = 'http://localhost:4180';

const pyjwtVerify = (token: string, expected: { issuer?: string; audience?: string } = {}) =>
  python(VERIFY_WITH_PYJWT, { jwks_url: `${gate.url}/_auth/jwks.json`, token, issuer: expected.issuer ?? ORIGIN, audience: expected.audience ?? ORIGIN });

function withPayloadChange(token: string, change: Record<string, unknown>): string {
  const [head, body, signature] = token.split('.') as [string, string, string];
  const claims = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as Record<string, unknown>;
  return `${head}.${Buffer.from(JSON.stringify({ ...claims, ...change })).toString('base64url')}.${signature}`;
}

describe.runIf(pyjwt.available)('PyJWT as an independent verifier of access tokens', () => {
  it('verifies a fresh access token against the published JWKS, with the claims userinfo reports', async () => {
    const info = (await (await fetch(`${gate.url}/_auth/userinfo`, { headers: { authorization: `Bearer ${user.access_token}` } })).json()) as Record<string, unknown>;
    const result = await pyjwtVerify(user.access_token);
    expect(result).toMatchObject({ ok: true, content_type: 'application/jwk-set+json', alg: 'EdDSA' });
    const claims = result['claims'] as Record<string, unknown>;
    expect(claims).toMatchObject({ sub: info['id'], username: user.username, sid: info['session_id'], iss: ORIGIN, aud: ORIGIN });
    expect(info['username']).toBe(user.username);
    expect(claims['exp']).toBe(Date.parse(String(info['expires_at'])) / 1000);
  });

  it('reads email null and email_verified false for an unconfirmed address, and both filled after it is confirmed', async () => {
    const email = `${uniqueName()}@example.com`;
    const unconfirmed = await registerUser(gate, uniqueName(), { email });
    const before = await pyjwtVerify(unconfirmed.access_token);
    expect(before).toMatchObject({ ok: true, claims: { email: null, email_verified: false } });

    const id = (await gate.services.store.findUserByLogin(email))!.id;
    const link = await gate.services.oneTimeTokens.issue('email_verify', id, email, 60_000);
    expect((await fetch(`${gate.url}/_auth/email/verify?token=${link}`)).status).toBe(200);
    const renewed = (await (await postJson(`${gate.url}/_auth/refresh`, { refresh_token: unconfirmed.refresh_token })).json()) as TokenBody;
    expect(await pyjwtVerify(renewed.access_token)).toMatchObject({ ok: true, claims: { email, email_verified: true } });
  });

  it('rejects the token once a claim in its payload is changed', async () => {
    const tampered = withPayloadChange(user.access_token, { username: 'admin', groups: ['admins'] });
    expect(await pyjwtVerify(tampered)).toMatchObject({ ok: false, error: 'InvalidSignatureError' });
  });

  it('rejects the token once one byte of its payload is flipped', async () => {
    const [head, body, signature] = user.access_token.split('.') as [string, string, string];
    const bytes = Buffer.from(body, 'base64url');
    // A byte inside a JSON string value, so the payload still parses and only the signature can object.
    const at = bytes.indexOf(Buffer.from(user.username)) + 1;
    bytes[at]! ^= 0x01;
    const result = await pyjwtVerify(`${head}.${bytes.toString('base64url')}.${signature}`);
    expect(result).toMatchObject({ ok: false, error: 'InvalidSignatureError' });
  });

  it('rejects the token for another issuer and another audience, so the match above is not vacuous', async () => {
    expect(await pyjwtVerify(user.access_token, { issuer: 'https://evil.example' })).toMatchObject({ ok: false, error: 'InvalidIssuerError' });
    expect(await pyjwtVerify(user.access_token, { audience: 'https://evil.example' })).toMatchObject({ ok: false, error: 'InvalidAudienceError' });
  });
});

describe.runIf(argon2cffi.available)('argon2-cffi as an independent verifier of password hashes', () => {
  const storedHash = async () => (await gate.services.store.findUserByLogin(user.username))!.passwordHash;

  it('stores an argon2id hash in the standard m,t,p order with at least the OWASP parameters', async () => {
    const match = /^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$/.exec(await storedHash());
    expect(match).not.toBeNull();
    const [m, t, p] = match!.slice(1).map(Number) as [number, number, number];
    expect(m).toBeGreaterThanOrEqual(19_456);
    expect(t).toBeGreaterThanOrEqual(2);
    expect(p).toBeGreaterThanOrEqual(1);
  });

  it('verifies the stored hash with the right password', async () => {
    expect(await python(VERIFY_WITH_ARGON2_CFFI, { hash: await storedHash(), password: PASSWORD })).toEqual({ ok: true });
  });

  it('rejects the stored hash with a wrong password', async () => {
    const result = await python(VERIFY_WITH_ARGON2_CFFI, { hash: await storedHash(), password: `${PASSWORD}!` });
    expect(result).toMatchObject({ ok: false, error: 'VerifyMismatchError' });
  });

  it('cannot read the m,p,t order npm argon2 writes, which is why gatehouse stores m,t,p', async () => {
    const npmOrder = (await storedHash()).replace(/\$m=(\d+),t=(\d+),p=(\d+)\$/, '$m=$1,p=$3,t=$2$');
    expect(await python(VERIFY_WITH_ARGON2_CFFI, { hash: npmOrder, password: PASSWORD })).toMatchObject({ ok: false });
  });
});
