/**
 * Three gatehouse processes on one PostgreSQL database behind real nginx, round
 * robin (SPEC section 9): they behave as one gatehouse. A cluster of this file's
 * own, so that stopping the database here stops nobody else's tests.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PASSWORD, postJson, type TokenBody } from '../helpers/gatehouse.js';
import { startCluster, type Cluster } from '../helpers/postgres-cluster.js';
import { postgres } from '../helpers/postgres.js';
import { gatehouseEnv, spawnServer, type ServerProcess } from '../helpers/process.js';
import { freePort, nginxPeer, startEcho, startNginx, type Echo, type RunningProxy } from '../helpers/proxies.js';

const nginx = nginxPeer();
/** Short, so that renewals happen within the test; each load below runs on a fresh token, inside one window. */
const TRUST_WINDOW_MS = 5_000;

/** Round robin over the replicas; which one answered is in X-Replica; idempotent requests move on from a dead one. */
const balancer = (port: number, replicas: string[]) => `
upstream gatehouse {
    ${replicas.map((address) => `server ${address} max_fails=0;`).join('\n    ')}
    keepalive 16;
}
server {
    listen 127.0.0.1:${port};
    location / {
        proxy_pass http://gatehouse;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_set_header Host $http_host;
        proxy_next_upstream error timeout http_502;
        add_header X-Replica $upstream_addr always;
    }
}
`;

/** Requests from `workers` loops until `stop()`: how many were answered, and how many were not 200. */
function load(url: string, headers: Record<string, string>, workers = 16) {
  let running = true;
  const outcome = { ok: 0, failed: [] as string[] };
  const loops = Array.from({ length: workers }, async () => {
    while (running) {
      try {
        const res = await fetch(url, { headers });
        await res.arrayBuffer();
        if (res.status === 200) outcome.ok++;
        else outcome.failed.push(String(res.status));
      } catch (error) {
        outcome.failed.push(String((error as Error).cause ?? error));
      }
    }
  });
  return {
    stop: async () => {
      running = false;
      await Promise.all(loops);
      return outcome;
    },
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.runIf(postgres.available && nginx.available)('three replicas on one PostgreSQL behind nginx', () => {
  let cluster: Cluster;
  let echo: Echo;
  let front: RunningProxy;
  let replicas: ServerProcess[] = [];
  let url: string;
  const dirs: string[] = [];
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    cluster = (await startCluster())!;
    const admin = new pg.Client({ connectionString: cluster.url });
    await admin.connect();
    await admin.query('CREATE DATABASE replicas');
    await admin.end();
    echo = await startEcho();
    const port = await freePort();
    url = `http://localhost:${port}`;
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-replicas-'));
    dirs.push(dir);
    env = gatehouseEnv(dir, {
      GATEHOUSE_DATABASE_URL: cluster.url.replace(/\/postgres$/, '/replicas'),
      GATEHOUSE_PUBLIC_URL: url,
      GATEHOUSE_UPSTREAM: echo.url,
      GATEHOUSE_TRUST_WINDOW: `${TRUST_WINDOW_MS / 1000}s`,
      GATEHOUSE_REGISTRATION: 'open',
    });
    replicas = await Promise.all([0, 1, 2].map(() => spawnServer(env)));
    front = await startNginx(balancer(port, replicas.map((replica) => replica.url.slice('http://'.length))), port);
  }, 60_000);

  afterAll(async () => {
    await front?.stop();
    for (const replica of replicas) if (replica.child.exitCode === null) replica.child.kill('SIGKILL');
    await echo?.close();
    cluster?.destroy();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it('keeps a browser session as it lands on each replica in turn, renewals and racing renewals included', async () => {
    const registered = await postJson(`${url}/_auth/register`, { username: 'roaming', password: PASSWORD });
    expect(registered.status).toBe(201);
    let cookie = registered.headers.getSetCookie()[0]!.split(';')[0]!;
    const seen = new Set<string>();
    const visit = async () => {
      const res = await fetch(`${url}/app`, { headers: { cookie, accept: 'application/json' }, redirect: 'manual' });
      seen.add(res.headers.get('x-replica') ?? '');
      const renewed = res.headers.getSetCookie().find((line) => line.startsWith('gatehouse_session='));
      if (renewed) cookie = renewed.split(';')[0]!;
      return res.status;
    };
    for (let i = 0; i < 6; i++) expect(await visit()).toBe(200);
    expect(seen.size).toBe(3);

    // The access token expires: six requests at once, spread over the replicas, all renew from one refresh token.
    await sleep(TRUST_WINDOW_MS + 200);
    const stale = cookie;
    const racing = await Promise.all(
      Array.from({ length: 6 }, async () => {
        const res = await fetch(`${url}/app`, { headers: { cookie: stale, accept: 'application/json' } });
        return { status: res.status, renewed: res.headers.getSetCookie().find((line) => line.startsWith('gatehouse_session='))?.split(';')[0] };
      }),
    );
    expect(racing.map((answer) => answer.status)).toEqual(Array(6).fill(200));
    const refreshTokens = new Set(racing.map((answer) => answer.renewed?.split('~')[1]));
    expect(refreshTokens.size).toBe(1); // one successor, whichever replica rotated
    cookie = racing[0]!.renewed!;
    for (let i = 0; i < 3; i++) expect(await visit()).toBe(200);
  });

  it('refuses a revoked session on every replica, within a second as a rule and always within the trust window', async () => {
    const login = (await (await postJson(`${url}/_auth/login`, { username: 'roaming', password: PASSWORD })).json()) as TokenBody;
    const bearer = { authorization: `Bearer ${login.access_token}` };
    for (const replica of replicas) expect((await fetch(`${replica.url}/_auth/userinfo`, { headers: bearer })).status).toBe(200);

    const revokedAt = Date.now();
    expect((await postJson(`${replicas[0]!.url}/_auth/logout`, { all: true }, bearer)).status).toBe(204);
    const lags = await Promise.all(
      replicas.map(async (replica) => {
        while ((await fetch(`${replica.url}/_auth/userinfo`, { headers: bearer })).status === 200) await sleep(10);
        return Date.now() - revokedAt;
      }),
    );
    expect(Math.max(...lags)).toBeLessThan(TRUST_WINDOW_MS);
  });

  it('loses only in-flight requests when a replica is killed, none when one is stopped, and serves valid tokens through a database outage', { timeout: 60_000 }, async () => {
    const freshToken = async () => {
      const login = (await (await postJson(`${replicas[0]!.url}/_auth/login`, { username: 'roaming', password: PASSWORD })).json()) as TokenBody;
      return { authorization: `Bearer ${login.access_token}`, accept: 'application/json' };
    };

    // SIGTERM: the replica drains; nginx moves new requests to the others.
    let traffic = load(`${url}/app`, await freshToken());
    await sleep(500);
    replicas[2]!.child.kill('SIGTERM');
    expect(await replicas[2]!.exited).toBe(0);
    await sleep(300);
    let outcome = await traffic.stop();
    expect(outcome.failed).toEqual([]);
    expect(outcome.ok).toBeGreaterThan(100);

    // SIGKILL: at most the requests it had in flight fail (16 workers, so at most 16).
    traffic = load(`${url}/app`, await freshToken());
    await sleep(500);
    replicas[1]!.child.kill('SIGKILL');
    await sleep(500);
    outcome = await traffic.stop();
    expect(outcome.failed.length, outcome.failed.slice(0, 5).join()).toBeLessThanOrEqual(16);
    expect(outcome.ok).toBeGreaterThan(100);

    // The database stops and starts under load: valid tokens keep passing; sign-in answers 503 meanwhile.
    traffic = load(`${url}/app`, await freshToken());
    await sleep(300);
    cluster.stop();
    const during = await postJson(`${replicas[0]!.url}/_auth/login`, { username: 'roaming', password: PASSWORD });
    cluster.start();
    outcome = await traffic.stop();
    expect(during.status).toBe(503);
    expect(outcome.failed).toEqual([]);
    let after = 0;
    for (let i = 0; i < 50 && after !== 200; i++) {
      after = (await postJson(`${replicas[0]!.url}/_auth/login`, { username: 'roaming', password: PASSWORD })).status;
      if (after !== 200) await sleep(200);
    }
    expect(after).toBe(200);
  });
});
