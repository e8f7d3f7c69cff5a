/**
 * External programs the tests check against. On a developer machine a missing
 * peer skips its tests with a loud reason; in CI (CI=true) it is a failure.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

export const inCi = process.env['CI'] === 'true';

export interface Peer {
  available: boolean;
  reason: string;
}

export function peer(name: string, probe: () => boolean, install: string): Peer {
  let available = false;
  try {
    available = probe();
  } catch {
    available = false;
  }
  const reason = `${name} is missing (${install})`;
  if (!available && inCi) throw new Error(`CI=true and ${reason}: the test peer must be installed by .ci/run`);
  if (!available) console.warn(`\n*** SKIPPING tests that need ${reason} ***\n`);
  return { available, reason };
}

export const PYTHON = '/usr/bin/python3';

export const pythonModule = (module: string, pkg: string) =>
  peer(
    `${PYTHON} with ${module}`,
    () => existsSync(PYTHON) && spawnSync(PYTHON, ['-c', `import ${module}`]).status === 0,
    `apt-get install -y ${pkg}`,
  );
