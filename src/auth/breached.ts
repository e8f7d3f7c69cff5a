/**
 * Breached-password check against a Have-I-Been-Pwned-style k-anonymity range API:
 * only the first 5 hex characters of the SHA-1 leave the process. When the service
 * cannot be reached in time the password is allowed (sign-up must not depend on a
 * third party) and the decision is logged.
 */
import { createHash } from 'node:crypto';
import type { Logger } from '../log.js';

const TIMEOUT_MS = 2_000;

export type BreachCheck = (password: string) => Promise<boolean>;

export function breachCheck(rangeUrl: string | undefined, log: Logger): BreachCheck {
  if (!rangeUrl) return async () => false;
  return async (password) => {
    const digest = createHash('sha1').update(password).digest('hex').toUpperCase();
    const prefix = digest.slice(0, 5);
    const suffix = digest.slice(5);
    try {
      const res = await fetch(`${rangeUrl}/range/${prefix}`, { signal: AbortSignal.timeout(TIMEOUT_MS), headers: { 'add-padding': 'true' } });
      if (!res.ok) throw new Error(`status ${res.status}`);
      const body = await res.text();
      return body.split('\n').some((line) => {
        const [hash, count] = line.trim().split(':');
        return hash === suffix && Number(count) > 0;
      });
    } catch (error) {
      log.warn('breach_check_unavailable', { decision: 'allowed', error: String(error) });
      return false;
    }
  };
}
