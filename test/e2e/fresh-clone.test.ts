/**
 * The README promises `npm ci && npm start` on a fresh clone. This clones the
 * committed tree (so a file missing from git fails here), installs it and starts it.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/gatehouse.js';
import { peer } from '../helpers/peers.js';
import { eventually, ROOT } from '../helpers/process.js';

const dir = tempDir();
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const git = peer('a git checkout with commits', () => spawnSync('git', ['rev-parse', 'HEAD'], { cwd: ROOT }).status === 0, 'run from a clone');

describe.runIf(git.available)('a fresh clone', () => {
  it('starts with npm ci && npm start, with its database under ./data', async () => {
    const clone = join(dir, 'clone');
    execFileSync('git', ['clone', '--quiet', ROOT, clone]);
    execFileSync('npm', ['ci', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: clone, stdio: 'ignore' });
    const child = spawn('npm', ['start'], {
      cwd: clone,
      env: { ...process.env, GATEHOUSE_LISTEN: '127.0.0.1:0', GATEHOUSE_MANAGEMENT_LISTEN: '127.0.0.1:0' },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let output = '';
    child.stdout!.on('data', (chunk) => (output += chunk));
    try {
      const management = await eventually(async () => /"management":"([^"]+)"/.exec(output)?.[1], 60_000);
      const ready = await fetch(`http://${management}/readyz`);
      expect(await ready.json()).toEqual({ status: 'ready' });
      expect(existsSync(join(clone, 'data/gatehouse.db'))).toBe(true);
    } finally {
      process.kill(-child.pid!, 'SIGTERM');
      await once(child, 'exit');
    }
  }, 180_000);
});
