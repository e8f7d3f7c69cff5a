/**
 * A database that cannot be reached (SPEC section 8): tokens inside their trust
 * window keep working, what needs the database answers 503, and everything works
 * again when it is back, without a restart. The outage is made by a TCP relay in
 * front of the real PostgreSQL that the test cuts and restores (a stand-in for a
 * network failure: stopping the shared cluster would stop every other test file).
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postJson, registerUser, PASSWORD, startTestGatehouse, type TestGatehouse } from '../helpers/gatehouse.js';
import { createDatabase, dropDatabase, postgres } from '../helpers/postgres.js';

/** Relays 127.0.0.1:<port> to the database; `cut` refuses and drops every connection, `restore` relays again. */
async function relayTo(target: URL) {
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  let port = 0;
  const listen = () =>
    new Promise<void>((resolve) => {
      server = createServer((client) => {
        const upstream = connect(Number(target.port), target.hostname);
        for (const socket of [client, upstream]) {
          sockets.add(socket);
          socket.on('close', () => sockets.delete(socket));
          socket.on('error', () => {});
        }
        client.pipe(upstream).pipe(client);
      });
      server.listen(port, '127.0.0.1', () => {
        port = (server!.address() as { port: number }).port;
        resolve();
      });
    });
  await listen();
  return {
    url: () => Object.assign(new URL(target.href), { port: String(port) }).href,
    cut: async () => {
      await new Promise<void>((resolve) => {
        server!.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      });
    },
    restore: listen,
  };
}

async function eventually(check: () => Promise<boolean>, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe.runIf(postgres.available)('PostgreSQL out of reach', () => {
  let database: string;
  let relay: Awaited<ReturnType<typeof relayTo>>;
  let gate: TestGatehouse;
  beforeAll(async () => {
    database = await createDatabase();
    relay = await relayTo(new URL(database));
    gate = await startTestGatehouse({ database_url: relay.url(), trust_window: '5m' });
  });
  afterAll(async () => {
    await gate?.close();
    await relay?.cut();
    if (database) await dropDatabase(database);
  });

  it('keeps valid tokens passing, answers 503 store_unavailable for what needs the database, and recovers without a restart', async () => {
    const user = await registerUser(gate);
    const bearer = { authorization: `Bearer ${user.access_token}` };
    await relay.cut();

    expect((await fetch(`${gate.url}/_auth/userinfo`, { headers: bearer })).status).toBe(200);
    const verify = await fetch(`${gate.url}/_auth/verify`, {
      headers: { ...bearer, 'x-forwarded-method': 'GET', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'app.example.com', 'x-forwarded-uri': '/' },
    });
    expect(verify.status).toBe(200);

    const refused = await Promise.all([
      postJson(`${gate.url}/_auth/login`, { username: user.username, password: PASSWORD }),
      postJson(`${gate.url}/_auth/refresh`, { refresh_token: user.refresh_token }),
      postJson(`${gate.url}/_auth/register`, { username: 'someone-new', password: PASSWORD }, { 'x-forwarded-for': '198.51.100.77' }),
    ]);
    for (const res of refused) {
      expect(res.status).toBe(503);
      expect(await res.json()).toMatchObject({ error: 'store_unavailable' });
    }
    expect((await fetch(`${gate.managementUrl}/readyz`)).status).toBe(503);
    const metrics = await (await fetch(`${gate.managementUrl}/metrics`)).text();
    expect(Number(/^gatehouse_store_errors_total\{reason="unavailable"\} (\d+)$/m.exec(metrics)?.[1])).toBeGreaterThanOrEqual(3);

    await relay.restore();
    await eventually(async () => (await fetch(`${gate.managementUrl}/readyz`)).status === 200, 10_000);
    expect((await postJson(`${gate.url}/_auth/login`, { username: user.username, password: PASSWORD })).status).toBe(200);
    expect((await postJson(`${gate.url}/_auth/refresh`, { refresh_token: user.refresh_token })).status).toBe(200);
  });
});
