/** The only module that uses otplib: RFC 6238 codes, 30-second steps, one step of clock skew either way. */
const PERIOD = 30;

/** Loaded on first use, like every library only some deployments need. */
const otplib = () => import('otplib');

export const newTotpSecret = async () => (await otplib()).generateSecret();

export const otpauthUrl = async (secret: string, account: string, issuer: string) => (await otplib()).generateURI({ secret, label: account, issuer });

/**
 * The time step of a valid code, or undefined. `afterStep` refuses a code of that
 * step or earlier, so a code is accepted once.
 */
export async function totpStep(secret: string, code: unknown, nowMs: number, afterStep?: number): Promise<number | undefined> {
  if (typeof code !== 'string' || !/^\d{6}$/.test(code)) return undefined;
  try {
    const { verify } = await otplib();
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
