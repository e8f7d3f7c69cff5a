// npm run bench:postgres: the shared store beside the embedded one, in the same run.
// Needs a PostgreSQL to work in: BENCH_POSTGRES_URL=postgres://user@host:port/db (an empty
// database it may fill; `createdb` one). Prints numbers only; nothing here passes or fails.
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import autocannon from 'autocannon';

const POSTGRES = process.env.BENCH_POSTGRES_URL;
if (!POSTGRES) {
  console.error('set BENCH_POSTGRES_URL to an empty PostgreSQL database');
  process.exit(2);
}
const PASSWORD = 'correct horse battery staple';
const dirs = [];
const fmt = (n, digits = 1) => n.toFixed(digits);
const percentile = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))];
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** bin/gatehouse serve on a free port, as npm start runs it. */
async function start(databaseUrl, extra = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-bench-pg-'));
  dirs.push(dir);
  const child = spawn('bin/gatehouse', ['serve'], {
    env: {
      ...process.env,
      PATH: `${dirname(process.execPath)}${delimiter}${process.env.PATH}`,
      GATEHOUSE_DATABASE_URL: databaseUrl === 'sqlite' ? `file:${join(dir, 'g.db')}` : databaseUrl,
      GATEHOUSE_LISTEN: '127.0.0.1:0',
      GATEHOUSE_MANAGEMENT_LISTEN: '127.0.0.1:0',
      GATEHOUSE_REGISTRATION: 'open',
      ...extra,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const line = await new Promise((resolve) =>
    createInterface({ input: child.stdout }).on('line', (l) => l.includes('"listening"') && resolve(JSON.parse(l))),
  );
  const url = `http://${line.address}`;
  const managementUrl = `http://${line.management}`;
  const post = (path, body, headers = {}) =>
    fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  return { url, managementUrl, post, stop: async () => (child.kill('SIGTERM'), await once(child, 'exit')) };
}

/** Milliseconds of each of `n` sequential calls. */
async function timings(n, call) {
  const ms = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await call(i);
    ms.push(performance.now() - t);
  }
  return ms;
}

/** A signed-in user on `server`: login and refresh timings, and a token for the verify rounds. */
async function latencies(server) {
  const user = `bench${Date.now()}`;
  await server.post('/_auth/register', { username: user, password: PASSWORD }, { 'x-forwarded-for': '198.18.0.1' });
  const logins = await timings(40, async () => {
    const res = await server.post('/_auth/login', { username: user, password: PASSWORD });
    if (res.status !== 200) throw new Error(`login answered ${res.status}`);
    await res.arrayBuffer();
  });
  let refresh = (await (await server.post('/_auth/login', { username: user, password: PASSWORD })).json()).refresh_token;
  const refreshes = await timings(400, async () => {
    const res = await server.post('/_auth/refresh', { refresh_token: refresh });
    if (res.status !== 200) throw new Error(`refresh answered ${res.status}`);
    refresh = (await res.json()).refresh_token;
  });
  const token = (await (await server.post('/_auth/login', { username: user, password: PASSWORD })).json()).access_token;
  return { logins, refreshes, token };
}

/** req/s of each server on `path`, in interleaved rounds so that the machine's drift falls on both alike; the median round. */
async function rounds(servers, path, headers = {}, count = 5) {
  const results = servers.map(() => []);
  for (let round = 0; round < count; round++) {
    for (const [i, { server, token }] of servers.entries()) {
      const run = await autocannon({ url: `${server.url}${path}`, connections: 16, duration: 3, headers: { authorization: `Bearer ${token}`, ...headers } });
      if (run.non2xx > 0) throw new Error(`${path} answered ${run.non2xx} times with other than 2xx`);
      results[i].push(run.requests.average);
    }
  }
  return results.map((rps) => percentile(rps, 50));
}

/** Statements this gatehouse has sent to its database, from its own metrics. */
async function statements(server) {
  const text = await (await fetch(`${server.managementUrl}/metrics`)).text();
  return Number(/^gatehouse_store_queries_total (\d+)$/m.exec(text)[1]);
}

/** Refreshes this gatehouse has rotated, from its own metrics. */
async function rotations(server) {
  const text = await (await fetch(`${server.managementUrl}/metrics`)).text();
  return Number(/^gatehouse_refreshes_total\{result="rotate"\} (\d+)$/m.exec(text)?.[1] ?? 0);
}

/** Statements per active session per trust window: sessions that keep browsing, minus what an idle replica does anyway. */
async function queriesPerSession() {
  const TRUST_WINDOW_S = 2;
  const WINDOWS = 4;
  const SESSIONS = 40;
  const server = await start(POSTGRES, { GATEHOUSE_TRUST_WINDOW: `${TRUST_WINDOW_S}s` });
  const cookies = [];
  for (let i = 0; i < SESSIONS; i++) {
    const res = await server.post('/_auth/register', { username: `s${Date.now()}x${i}`, password: PASSWORD }, { 'x-forwarded-for': `198.18.1.${i}` });
    cookies.push(res.headers.getSetCookie()[0].split(';')[0]);
  }
  const window = TRUST_WINDOW_S * WINDOWS * 1000;
  let before = await statements(server);
  await sleep(window);
  const idle = (await statements(server)) - before;

  before = await statements(server);
  const rotatedBefore = await rotations(server);
  const deadline = Date.now() + window;
  await Promise.all(
    cookies.map(async (cookie, i) => {
      while (Date.now() < deadline) {
        const res = await fetch(`${server.url}/_auth/userinfo`, { headers: { cookie } });
        const renewed = res.headers.getSetCookie().find((line) => line.startsWith('gatehouse_session='));
        if (renewed) cookies[i] = cookie = renewed.split(';')[0];
        await res.arrayBuffer();
        await sleep(100);
      }
    }),
  );
  const busy = (await statements(server)) - before;
  const rotated = (await rotations(server)) - rotatedBefore;
  await server.stop();
  // Token lifetimes are whole seconds, so a 2 s window renews every 1–2 s: per refresh is the figure that carries over.
  return { perSession: (busy - idle) / SESSIONS / WINDOWS, perRefresh: (busy - idle) / rotated, idlePerWindow: idle / WINDOWS };
}

/** How long until another replica refuses a token whose session was ended on the first. */
async function revocationLag() {
  const [a, b] = await Promise.all([start(POSTGRES, { GATEHOUSE_TRUST_WINDOW: '5m' }), start(POSTGRES, { GATEHOUSE_TRUST_WINDOW: '5m' })]);
  const user = `lag${Date.now()}`;
  await a.post('/_auth/register', { username: user, password: PASSWORD }, { 'x-forwarded-for': '198.18.2.1' });
  const lags = [];
  for (let i = 0; i < 30; i++) {
    const { access_token } = await (await a.post('/_auth/login', { username: user, password: PASSWORD })).json();
    const headers = { authorization: `Bearer ${access_token}` };
    if ((await fetch(`${b.url}/_auth/userinfo`, { headers })).status !== 200) throw new Error('token refused before logout');
    const t = performance.now();
    await a.post('/_auth/logout', {}, headers);
    while ((await fetch(`${b.url}/_auth/userinfo`, { headers })).status === 200) await sleep(1);
    lags.push(performance.now() - t);
  }
  await Promise.all([a.stop(), b.stop()]);
  return lags;
}

try {
  // Proxy mode, so that both the verify endpoint and proxying can be measured: an app that answers ok.
  const app = createServer((_req, res) => res.end('ok'));
  await new Promise((resolve) => app.listen(0, '127.0.0.1', resolve));
  const upstream = { GATEHOUSE_UPSTREAM: `http://127.0.0.1:${app.address().port}` };
  const [sqliteServer, postgresServer] = [await start('sqlite', upstream), await start(POSTGRES, upstream)];
  const sqlite = await latencies(sqliteServer);
  const postgres = await latencies(postgresServer);
  const both = [
    { server: sqliteServer, token: sqlite.token },
    { server: postgresServer, token: postgres.token },
  ];
  const forwarded = { 'x-forwarded-method': 'GET', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'app.example.com', 'x-forwarded-uri': '/' };
  const [sqliteRps, postgresRps] = await rounds(both, '/_auth/verify', forwarded);
  const [sqliteProxyRps, postgresProxyRps] = await rounds(both, '/app');
  await Promise.all([sqliteServer.stop(), postgresServer.stop()]);
  app.close();
  console.log('\n## SQLite (embedded) and PostgreSQL (shared), one replica each');
  console.log('| | SQLite | PostgreSQL | ratio |');
  console.log('| --- | --- | --- | --- |');
  const row = (name, s, p, digits = 1) => console.log(`| ${name} | ${fmt(s, digits)} | ${fmt(p, digits)} | ${fmt(p / s, 2)}× |`);
  row('verify req/s (autocannon, 16 connections, median of 5 interleaved 3 s rounds)', sqliteRps, postgresRps, 0);
  row('proxy req/s (the same)', sqliteProxyRps, postgresProxyRps, 0);
  row('login p50 ms', percentile(sqlite.logins, 50), percentile(postgres.logins, 50));
  row('login p99 ms', percentile(sqlite.logins, 99), percentile(postgres.logins, 99));
  row('refresh p50 ms', percentile(sqlite.refreshes, 50), percentile(postgres.refreshes, 50), 2);
  row('refresh p99 ms', percentile(sqlite.refreshes, 99), percentile(postgres.refreshes, 99), 2);
  const { perSession, perRefresh, idlePerWindow } = await queriesPerSession();
  console.log(`\nstatements per active session per trust window of 2 s (PostgreSQL): ${fmt(perSession, 2)}; per refresh: ${fmt(perRefresh, 2)} (an idle replica sends ${fmt(idlePerWindow, 1)} per window on its own)`);
  const lags = await revocationLag();
  console.log(`revocation lag across two replicas (LISTEN/NOTIFY), 30 logouts: p50 ${fmt(percentile(lags, 50))} ms, p99 ${fmt(percentile(lags, 99))} ms`);
} finally {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
}
