/**
 * Registering passkeys over HTTP with hand-made registrations ('none' attestation,
 * which any client may send): a credential ID that an account holds already is 409
 * (SPEC section 7), never a 500, and stays with its first holder.
 */
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { isoCBOR } from '@simplewebauthn/server/helpers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postJson, registerUser, startTestGatehouse, type TestGatehouse } from '../helpers/gatehouse.js';

/** A registration response as an authenticator without attestation would send it, for any credential ID. */
function noneAttestation(credentialId: Buffer, challenge: string, rpId: string, origin: string) {
  const jwk = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' });
  // COSE_Key (RFC 9053): kty EC2, alg ES256, crv P-256, x, y.
  const coseKey = new Map<number, number | Uint8Array>([[1, 2], [3, -7], [-1, 1], [-2, Buffer.from(jwk.x!, 'base64url')], [-3, Buffer.from(jwk.y!, 'base64url')]]);
  const idLength = Buffer.alloc(2);
  idLength.writeUInt16BE(credentialId.length);
  const flags = Buffer.from([0x45]); // user present, user verified, attested credential data
  const authData = Buffer.concat([createHash('sha256').update(rpId).digest(), flags, Buffer.alloc(4), Buffer.alloc(16), idLength, credentialId, isoCBOR.encode(coseKey)]);
  const attestationObject = isoCBOR.encode(new Map<string, string | Uint8Array | Map<string, string>>([['fmt', 'none'], ['attStmt', new Map<string, string>()], ['authData', authData]]));
  const clientDataJSON = JSON.stringify({ type: 'webauthn.create', challenge, origin, crossOrigin: false });
  const id = credentialId.toString('base64url');
  return {
    id,
    rawId: id,
    type: 'public-key',
    response: { clientDataJSON: Buffer.from(clientDataJSON).toString('base64url'), attestationObject: Buffer.from(attestationObject).toString('base64url'), transports: ['usb'] },
    clientExtensionResults: {},
  };
}

describe('registering a passkey', () => {
  let gate: TestGatehouse;
  beforeAll(async () => {
    gate = await startTestGatehouse();
  });
  afterAll(() => gate?.close());

  /** Asks for options as the signed-in user and answers them with the given credential ID. */
  async function registerCredential(accessToken: string, credentialId: Buffer) {
    const bearer = { authorization: `Bearer ${accessToken}` };
    const options = (await (await postJson(`${gate.url}/_auth/webauthn/register/options`, {}, bearer)).json()) as { challenge: string; rp: { id: string } };
    const response = noneAttestation(credentialId, options.challenge, options.rp.id, new URL(gate.services.config.public_url).origin);
    return postJson(`${gate.url}/_auth/webauthn/register/verify`, { response, name: 'Key' }, bearer);
  }

  it('answers 409 credential_taken for a credential ID another account or the same one holds, and leaves it with its holder', async () => {
    const [holder, other] = [await registerUser(gate), await registerUser(gate)];
    const credentialId = randomBytes(32);
    expect((await registerCredential(holder.access_token, credentialId)).status).toBe(201);

    for (const user of [other, holder]) {
      const again = await registerCredential(user.access_token, credentialId);
      expect(again.status).toBe(409);
      expect(await again.json()).toMatchObject({ error: 'credential_taken' });
    }
    const stored = await gate.services.store.findCredential(credentialId.toString('base64url'));
    expect(stored?.userId).toBe((await gate.services.store.findUserByLogin(holder.username))!.id);
  });

  it('lets one of two registrations of one credential ID sent at once through, and answers the other 409', async () => {
    const [first, second] = [await registerUser(gate), await registerUser(gate)];
    const credentialId = randomBytes(32);
    const answers = await Promise.all([registerCredential(first.access_token, credentialId), registerCredential(second.access_token, credentialId)]);
    expect(answers.map((res) => res.status).sort()).toEqual([201, 409]);
  });
});
