/**
 * Opaque refresh tokens: `<session id>.<secret>`, random, stored only as SHA-256.
 *
 * After a rotation the new token is also kept sealed (AES-256-GCM) under a key
 * derived from the previous token, so that requests racing with the previous
 * token during refresh_grace all receive the same new token, and the browser
 * holds a working token whichever response it stores last. Only a holder of the
 * previous token can open it; the database alone reveals no usable token.
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import { sha256 } from './digest.js';

const FORMAT = /^([A-Za-z0-9_-]{22})\.([A-Za-z0-9_-]{43})$/;

export interface RefreshToken {
  sessionId: string;
  secret: string;
  value: string;
}

export function newSessionId(): string {
  return randomBytes(16).toString('base64url');
}

export function newRefreshToken(sessionId: string): RefreshToken {
  const secret = randomBytes(32).toString('base64url');
  return { sessionId, secret, value: `${sessionId}.${secret}` };
}

export function parseRefreshToken(value: string): RefreshToken | undefined {
  const match = FORMAT.exec(value);
  return match ? { sessionId: match[1]!, secret: match[2]!, value } : undefined;
}

export const hashSecret = sha256;

export function sameHash(a: string, b: string | null): boolean {
  return b !== null && a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));
}

function sealingKey(previous: RefreshToken): Buffer {
  return Buffer.from(hkdfSync('sha256', previous.secret, previous.sessionId, 'gatehouse refresh seal', 32));
}

export function sealToken(previous: RefreshToken, next: RefreshToken): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', sealingKey(previous), iv);
  const body = Buffer.concat([cipher.update(next.secret, 'utf8'), cipher.final()]);
  return Buffer.concat([iv, body, cipher.getAuthTag()]).toString('base64url');
}

export function unsealToken(previous: RefreshToken, sealed: string): RefreshToken | undefined {
  try {
    const raw = Buffer.from(sealed, 'base64url');
    const decipher = createDecipheriv('aes-256-gcm', sealingKey(previous), raw.subarray(0, 12));
    decipher.setAuthTag(raw.subarray(raw.length - 16));
    const secret = Buffer.concat([decipher.update(raw.subarray(12, raw.length - 16)), decipher.final()]).toString('utf8');
    return { sessionId: previous.sessionId, secret, value: `${previous.sessionId}.${secret}` };
  } catch {
    return undefined;
  }
}
