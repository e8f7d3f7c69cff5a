/**
 * Registering passkeys over HTTP with hand-made registrations ('none' attestation,
 * which any client may send): a credential ID that an account holds already is 409
 * (SPEC section 7), never a 500, and stays with its first holder.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postJson, registerUser, startTestGatehouse, type TestGatehouse } from '../helpers/gatehouse.js';
import { noneAttestation } from '../helpers/soft-passkey.js';

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
