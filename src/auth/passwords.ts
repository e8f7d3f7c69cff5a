/** The only module that uses argon2. Hashes are argon2id PHC strings in the standard m=,t=,p= order. */
import { availableParallelism } from 'node:os';
import argon2 from 'argon2';
import pLimit from 'p-limit';

/** OWASP's minimum for argon2id: 19 MiB, 2 passes, 1 lane. */
export const OWASP_PARAMETERS = { memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

const OWASP_DUMMY_HASH = '$argon2id$v=19$m=19456,t=2,p=1$aB64xHWNgD7RaRkyV1oh+g$lb9B+K8Z9jdM33g5FryC7MRA1GM2g5UtmwTZjGFuoNE';

/**
 * What an account without a password stores (a pre-hijacked account after its owner proved the
 * address, section 7 of the SPEC): not a PHC string, so no password can ever match it.
 */
export const NO_PASSWORD = '!';
export const hasPassword = (stored: string) => stored !== NO_PASSWORD;

export const MIN_PASSWORD_LENGTH = 10;
/** Long passphrases are welcome; this only stops a megabyte "password" from costing CPU. */
export const MAX_PASSWORD_BYTES = 4096;

export interface PasswordHasher {
  hash(password: string): Promise<string>;
  /** Always spends one argon2 verification, also for an unknown user (`hash` undefined) or NO_PASSWORD. */
  verify(hash: string | undefined, password: string): Promise<boolean>;
  needsRehash(hash: string): boolean;
}

type Parameters = { memoryCost: number; timeCost: number; parallelism: number };

export async function createPasswordHasher(options: { pepper?: string; parameters?: Parameters } = {}): Promise<PasswordHasher> {
  const parameters = options.parameters ?? OWASP_PARAMETERS;
  const secret = options.pepper ? Buffer.from(options.pepper) : undefined;
  // Each hash holds its memory (19 MiB by default) while it runs, and more hashes at once
  // than cores finish no sooner: the others wait their turn without holding memory. One
  // libuv thread stays free for file and DNS work, which shares that pool.
  const hashSlots = pLimit(Math.max(1, Math.min(availableParallelism(), libuvThreads() - 1)));
  const hash = (password: string) =>
    hashSlots(async () => standardOrder(await argon2.hash(password, { type: argon2.argon2id, ...parameters, ...(secret && { secret }) })));
  // Compared against when the user does not exist, so both answers take the same time. For the
  // default parameters it is a fixed hash of a forgotten random password: computing one at start
  // would cost 19 MiB of peak memory and 30 ms of ready time. It matches nothing, pepper or not.
  const dummyHash = parameters === OWASP_PARAMETERS ? OWASP_DUMMY_HASH : await hash(crypto.randomUUID());
  return {
    hash,
    async verify(stored, password) {
      // The dummy for NO_PASSWORD too: a refusal without argon2 work would tell which accounts have none.
      const usable = stored !== undefined && hasPassword(stored);
      const matches = await hashSlots(() => argon2.verify(usable ? stored : dummyHash, password, secret && { secret })).catch(() => false);
      return matches && usable;
    },
    needsRehash(stored) {
      const found = readParameters(stored);
      return !found || found.memoryCost < parameters.memoryCost || found.timeCost < parameters.timeCost;
    },
  };
}

/** libuv's thread pool, where argon2 runs: 4 unless UV_THREADPOOL_SIZE says otherwise. */
const libuvThreads = () => Number(process.env['UV_THREADPOOL_SIZE']) || 4;

/** npm argon2 writes m=,p=,t=; libargon2 verifiers (PHP, python argon2-cffi) only read m=,t=,p=. */
export function standardOrder(phc: string): string {
  return phc.replace(/\$m=(\d+),p=(\d+),t=(\d+)\$/, '$m=$1,t=$3,p=$2$');
}

function readParameters(phc: string): Parameters | undefined {
  if (!phc.startsWith('$argon2id$')) return undefined;
  const fields = Object.fromEntries([...phc.matchAll(/([mtp])=(\d+)/g)].map(([, key, value]) => [key!, Number(value)]));
  if (!fields['m'] || !fields['t'] || !fields['p']) return undefined;
  return { memoryCost: fields['m'], timeCost: fields['t'], parallelism: fields['p'] };
}

export function passwordProblem(password: string): string | undefined {
  if (password.length < MIN_PASSWORD_LENGTH) return `Passwords need at least ${MIN_PASSWORD_LENGTH} characters.`;
  if (Buffer.byteLength(password) > MAX_PASSWORD_BYTES) return `Passwords may be at most ${MAX_PASSWORD_BYTES} bytes long.`;
  return undefined;
}
