/**
 * Two replicas on one real PostgreSQL database (SPEC section 9): what one does,
 * the other knows. Revocations travel by LISTEN/NOTIFY, and by reading them back
 * while the listening connection is down.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { PASSWORD, postJson, registerUser, startTestGatehouse, type TestGatehouse } from '../helpers/gatehouse.js';
import { createDatabase, dropDatabase, postgres } from '../helpers/postgres.js';
import { openSqlStore } from '../../src/store/sql-store.js';

/** Polls until `check` holds, or fails after `ms`. */
async function until(check: () => boolean | Promise<boolean>, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const userinfo = (gate: TestGatehouse, token: string) => fetch(`${gate.url}/_auth/userinfo`, { headers: { authorization: `Bearer ${token}` } });

describe.runIf(postgres.available)('a PostgreSQL URL', () => {
  it('honours sslmode: require refuses a server without TLS, disable connects', async () => {
    const url = await createDatabase();
    try {
      const secure = await openSqlStore(`${url}?sslmode=require`);
      await expect(secure.ping()).rejects.toThrow(/SSL/i);
      await secure.close();
      const plain = await openSqlStore(`${url}?sslmode=disable`);
      await plain.ping();
      await plain.close();
    } finally {
      await dropDatabase(url);
    }
  });
});

describe.runIf(postgres.available)('two replicas on one PostgreSQL database', () => {
  let url: string;
  let a: TestGatehouse;
  let b: TestGatehouse;
  beforeAll(async () => {
    url = await createDatabase();
    // A long trust window: the periodic read every 5 s is not what these tests see.
    [a, b] = await Promise.all([startTestGatehouse({ database_url: url, trust_window: '5m' }), startTestGatehouse({ database_url: url, trust_window: '5m' })]);
  });
  afterAll(async () => {
    await Promise.all([a?.close(), b?.close()]);
    if (url) await dropDatabase(url);
  });

  it('share users and sessions: a token from one is good on the other, a refresh on one rotates for both', async () => {
    const user = await registerUser(a);
    expect(await (await userinfo(b, user.access_token)).json()).toMatchObject({ username: user.username });
    const refreshed = await postJson(`${b.url}/_auth/refresh`, { refresh_token: user.refresh_token });
    expect(refreshed.status).toBe(200);
    b.clock.advance(11_000);
    a.clock.advance(11_000);
    // Presented again after refresh_grace, on the other replica: theft, the session ends.
    expect((await postJson(`${a.url}/_auth/refresh`, { refresh_token: user.refresh_token })).status).toBe(401);
  });

  it('holds the guess limit across replicas: of 30 wrong passwords sent to both at once, at most max_retries are checked', async () => {
    const user = await registerUser(a);
    const checks = [vi.spyOn(a.services.passwords, 'verify'), vi.spyOn(b.services.passwords, 'verify')];
    const answers = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        postJson(`${(i % 2 ? a : b).url}/_auth/login`, { username: user.username, password: `wrong password ${i}` }, { 'x-forwarded-for': `198.51.100.${i + 1}` }),
      ),
    );
    expect(answers.map((res) => res.status)).toEqual(Array(30).fill(401));
    expect(checks.reduce((sum, spy) => sum + spy.mock.calls.length, 0)).toBeLessThanOrEqual(5);
    // The right password is refused too now, on either replica: the account is banned.
    expect((await postJson(`${a.url}/_auth/login`, { username: user.username, password: PASSWORD })).status).toBe(401);
    checks.forEach((spy) => spy.mockRestore());
  });

  it('tells the other replica of a logout-all as it commits (NOTIFY), not by its periodic read', async () => {
    const user = await registerUser(a);
    const heard = vi.spyOn(b.services.revocations, 'heard');
    const sync = vi.spyOn(b.services.revocations, 'sync');
    expect((await userinfo(b, user.access_token)).status).toBe(200);
    const sid = JSON.parse(Buffer.from(user.access_token.split('.')[1]!, 'base64url').toString()).sid as string;

    await postJson(`${a.url}/_auth/logout`, { all: true }, { authorization: `Bearer ${user.access_token}` });
    await until(() => b.services.revocations.has(sid), 3_000);
    expect(heard.mock.calls.flat(2)).toContain(sid);
    expect(sync).not.toHaveBeenCalled();
    expect((await userinfo(b, user.access_token)).status).toBe(401);
    heard.mockRestore();
    sync.mockRestore();

    const metrics = await (await fetch(`${b.managementUrl}/metrics`)).text();
    expect(Number(/^gatehouse_revocation_notification_lag_seconds_count (\d+)$/m.exec(metrics)?.[1])).toBeGreaterThan(0);
    expect(Number(/^gatehouse_store_queries_total (\d+)$/m.exec(metrics)?.[1])).toBeGreaterThan(0);
    expect(metrics).toMatch(/^gatehouse_store_pool_connections\{state="idle"\} \d+$/m);
    expect(metrics).toMatch(/^gatehouse_store_pool_connections\{state="waiting"\} 0$/m);
  });

  it('reads revocations back when its listening connection is cut, and listens again', async () => {
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    try {
      // Cut every LISTEN connection of the database (both replicas'); the pools keep working.
      await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN%'`);
      const user = await registerUser(a);
      const sid = JSON.parse(Buffer.from(user.access_token.split('.')[1]!, 'base64url').toString()).sid as string;
      await postJson(`${a.url}/_auth/logout`, {}, { authorization: `Bearer ${user.access_token}` });
      // Within one sync interval (5 s at most) or at reconnection, whichever comes first.
      await until(() => b.services.revocations.has(sid), 7_000);
      await until(async () => (await admin.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN%'`)).rows[0].n === 2, 7_000);

      const next = await registerUser(a);
      const nextSid = JSON.parse(Buffer.from(next.access_token.split('.')[1]!, 'base64url').toString()).sid as string;
      const heard = vi.spyOn(b.services.revocations, 'heard');
      await postJson(`${a.url}/_auth/logout`, {}, { authorization: `Bearer ${next.access_token}` });
      await until(() => heard.mock.calls.flat(2).includes(nextSid), 3_000);
      heard.mockRestore();
    } finally {
      await admin.end();
    }
  });
});
