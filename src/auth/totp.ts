/** The only module that uses otplib: RFC 6238 codes, 30-second steps, one step of clock skew either way. */
import { generateSecret, generateURI, verify } from 'otplib';

const PERIOD = 30;

export const newTotpSecret = () => generateSecret();

export const otpauthUrl = (secret: string, account: string, issuer: string) => generateURI({ secret, label: account, issuer });

/**
 * The time step of a valid code, or undefined. `afterStep` refuses a code of that
 * step or earlier, so a code is accepted once.
 */
export async function totpStep(secret: string, code: unknown, nowMs: number, afterStep?: number): Promise<number | undefined> {
  if (typeof code !== 'string' || !/^\d{6}$/.test(code)) return undefined;
  try {
    const result = await verify({
      secret,
      token: code,
      epoch: Math.floor(nowMs / 1000),
      epochTolerance: PERIOD,
      ...(afterStep !== undefined && { afterTimeStep: afterStep }),
    });
    // A TOTP result carries its RFC 6238 time step (the type is shared with HOTP's).
    return result.valid && 'timeStep' in result ? (result.timeStep as number) : undefined;
  } catch {
    return undefined;
  }
}
