import { request } from 'node:http';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { silentLogger } from '../../src/log.js';
import { startGatehouse } from '../../src/server.js';
import { tempDir, testConfig } from '../helpers/gatehouse.js';

it('listens on a unix socket when listen is unix:/path', async () => {
  const dir = tempDir();
  const socketPath = join(dir, 'gatehouse.sock');
  const running = await startGatehouse(testConfig({ listen: `unix:${socketPath}` }, dir), { log: silentLogger });
  try {
    expect(running.address).toBe(`unix:${socketPath}`);
    const status = await new Promise<number>((resolve, reject) =>
      request({ socketPath, path: '/_auth/jwks.json' }, (res) => {
        res.resume();
        resolve(res.statusCode!);
      })
        .on('error', reject)
        .end(),
    );
    expect(status).toBe(200);
  } finally {
    await running.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
