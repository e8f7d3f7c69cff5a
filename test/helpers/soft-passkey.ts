/**
 * A passkey made by hand, as an authenticator without attestation would make it:
 * registrations ('none' attestation, which any client may send) and signed assertions.
 */
import { createHash, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { isoCBOR } from '@simplewebauthn/server/helpers';

const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest();
const b64url = (data: string | Uint8Array) => Buffer.from(data).toString('base64url');
/** User present, user verified. */
const PRESENT_VERIFIED = 0x05;

export interface SoftPasskey {
  /** The registration response for `challenge` (from the register/options answer). */
  registration(challenge: string): Record<string, unknown>;
  /** The authentication response for `challenge`, signed with the passkey's key. */
  assertion(challenge: string, userHandle?: string): Record<string, unknown>;
}

export function softPasskey(credentialId: Buffer, rpId: string, origin: string): SoftPasskey {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const id = b64url(credentialId);
  return {
    registration: (challenge) => registrationResponse(credentialId, publicKey, challenge, rpId, origin),
    assertion(challenge, userHandle) {
      const authData = Buffer.concat([sha256(rpId), Buffer.from([PRESENT_VERIFIED]), Buffer.from([0, 0, 0, 1])]);
      const clientDataJSON = JSON.stringify({ type: 'webauthn.get', challenge, origin, crossOrigin: false });
      const signature = sign('sha256', Buffer.concat([authData, sha256(clientDataJSON)]), privateKey);
      const response = { clientDataJSON: b64url(clientDataJSON), authenticatorData: b64url(authData), signature: b64url(signature), ...(userHandle && { userHandle }) };
      return { id, rawId: id, type: 'public-key', response, clientExtensionResults: {} };
    },
  };
}

/** A registration response as an authenticator without attestation would send it, for any credential ID. */
export function noneAttestation(credentialId: Buffer, challenge: string, rpId: string, origin: string): Record<string, unknown> {
  return registrationResponse(credentialId, generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey, challenge, rpId, origin);
}

function registrationResponse(credentialId: Buffer, publicKey: KeyObject, challenge: string, rpId: string, origin: string): Record<string, unknown> {
  const jwk = publicKey.export({ format: 'jwk' });
  // COSE_Key (RFC 9053): kty EC2, alg ES256, crv P-256, x, y.
  const coseKey = new Map<number, number | Uint8Array>([[1, 2], [3, -7], [-1, 1], [-2, Buffer.from(jwk.x!, 'base64url')], [-3, Buffer.from(jwk.y!, 'base64url')]]);
  const idLength = Buffer.alloc(2);
  idLength.writeUInt16BE(credentialId.length);
  const flags = Buffer.from([0x45]); // user present, user verified, attested credential data
  const authData = Buffer.concat([sha256(rpId), flags, Buffer.alloc(4), Buffer.alloc(16), idLength, credentialId, isoCBOR.encode(coseKey)]);
  const attestationObject = isoCBOR.encode(new Map<string, string | Uint8Array | Map<string, string>>([['fmt', 'none'], ['attStmt', new Map<string, string>()], ['authData', authData]]));
  const clientDataJSON = JSON.stringify({ type: 'webauthn.create', challenge, origin, crossOrigin: false });
  const id = b64url(credentialId);
  return {
    id,
    rawId: id,
    type: 'public-key',
    response: { clientDataJSON: b64url(clientDataJSON), attestationObject: b64url(attestationObject), transports: ['usb'] },
    clientExtensionResults: {},
  };
}
