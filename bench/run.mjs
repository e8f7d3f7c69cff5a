// npm run bench: what the core costs, each figure beside a baseline measured in the same run.
// Prints numbers only; nothing here passes or fails.
import { spawn } from 'node:child_process';
import { generateKeyPairSync, sign, verify } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import argon2 from 'argon2';
import { fixedClock } from '../dist/clock.js';
import { OWASP_PARAMETERS } from '../dist/auth/passwords.js';
import { AccessTokens, KeyRing } from '../dist/auth/tokens.js';
import { openSqlStore } from '../dist/store/sql-store.js';
import { benchGate } from './gate.mjs';

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (n, digits = 1) => n.toFixed(digits);
const dirs = [];
const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-bench-'));
  dirs.push(dir);
  return dir;
};

/** Time from spawn until /readyz answers 200, read from the `listening` line. */
async function readyTime(dir) {
  const started = performance.now();
  // bin/gatehouse, as npm start runs it; with this node first on PATH.
  const child = spawn('bin/gatehouse', ['serve'], {
    env: {
      ...process.env,
      PATH: `${dirname(process.execPath)}${delimiter}${process.env.PATH}`,
      GATEHOUSE_DATABASE_URL: `file:${join(dir, 'g.db')}`,
      GATEHOUSE_LISTEN: '127.0.0.1:0',
      GATEHOUSE_MANAGEMENT_LISTEN: '127.0.0.1:0',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const line = await new Promise((resolve) =>
    createInterface({ input: child.stdout }).on('line', (l) => l.includes('"listening"') && resolve(JSON.parse(l))),
  );
  for (;;) {
    const res = await fetch(`http://${line.management}/readyz`).catch(() => undefined);
    if (res?.status === 200) break;
  }
  const ms = performance.now() - started;
  return { ms, child, url: `http://${line.address}` };
}

async function stop(child) {
  const rss = peakRssMiB(child.pid);
  child.kill('SIGTERM');
  await once(child, 'exit');
  return rss;
}

function peakRssMiB(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)[1]) / 1024;
}

async function bareNodeReady() {
  const started = performance.now();
  const child = spawn(process.execPath, ['-e', "require('http').createServer((q,s)=>s.end()).listen(0,()=>console.log('up'))"], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise((resolve) => child.stdout.once('data', resolve));
  const ms = performance.now() - started;
  child.kill();
  await once(child, 'exit');
  return ms;
}

async function benchReady() {
  const cold = [];
  const warm = [];
  const bare = [];
  const dir = tempDir();
  for (let i = 0; i < 5; i++) {
    bare.push(await bareNodeReady());
    const first = await readyTime(i === 0 ? dir : tempDir());
    cold.push(first.ms);
    await stop(first.child);
    const again = await readyTime(dir);
    warm.push(again.ms);
    await stop(again.child);
  }
  console.log('\n## Ready time (spawn → /readyz 200), median of 5');
  console.log(`bare node http server (spawn → listening): ${fmt(median(bare))} ms`);
  console.log(`gatehouse, empty database (migrations + first key): ${fmt(median(cold))} ms  (${fmt(median(cold) / median(bare), 2)}× bare node)`);
  console.log(`gatehouse, existing database: ${fmt(median(warm))} ms  (${fmt(median(warm) / median(bare), 2)}× bare node)`);
  return { bare: median(bare), cold: median(cold), warm: median(warm) };
}

async function benchTokens() {
  const store = await openSqlStore('file::memory:');
  await store.migrate();
  const clock = fixedClock(Date.now());
  const keys = new KeyRing(store, clock, 300_000);
  await keys.init();
  const tokens = new AccessTokens(keys, clock, { issuer: 'http://localhost:4180', audience: 'http://localhost:4180', lifetimeMs: 300_000 });
  const claims = { sub: 'u', sid: 's', username: 'alice', email: 'alice@example.com', groups: ['admins'] };
  const { token } = await tokens.sign(claims);

  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const data = Buffer.from(token.split('.').slice(0, 2).join('.'));
  const signature = sign(null, data, privateKey);

  const N = 5000;
  const time = async (fn) => {
    for (let i = 0; i < 500; i++) await fn();
    const t = performance.now();
    for (let i = 0; i < N; i++) await fn();
    return ((performance.now() - t) * 1000) / N;
  };
  const rawSign = await time(() => sign(null, data, privateKey));
  const rawVerify = await time(() => verify(null, data, publicKey, signature));
  const ourSign = await time(() => tokens.sign(claims));
  const ourVerify = await time(() => tokens.verify(token));
  console.log(`\n## Access tokens, µs per call (${N} calls)`);
  console.log(`raw Ed25519 sign (node:crypto): ${fmt(rawSign)} µs; gatehouse sign: ${fmt(ourSign)} µs (${fmt(ourSign / rawSign, 2)}×)`);
  console.log(`raw Ed25519 verify (node:crypto): ${fmt(rawVerify)} µs; gatehouse verify with all claim checks: ${fmt(ourVerify)} µs (${fmt(ourVerify / rawVerify, 2)}×)`);
  await store.close();
}

async function benchLogin() {
  const server = await readyTime(tempDir());
  const password = 'correct horse battery staple';
  const post = (path, body) =>
    fetch(`${server.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  await post('/_auth/register', { username: 'bench', password });
  const hash = await argon2.hash(password, { type: argon2.argon2id, ...OWASP_PARAMETERS });

  const CONCURRENCY = 4;
  const SECONDS = 5;
  const drive = async (once) => {
    let done = 0;
    const deadline = performance.now() + SECONDS * 1000;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (performance.now() < deadline) {
          await once();
          done++;
        }
      }),
    );
    return done / SECONDS;
  };
  const raw = await drive(() => argon2.verify(hash, password));
  const logins = await drive(async () => {
    const res = await post('/_auth/login', { username: 'bench', password });
    if (res.status !== 200) throw new Error(`login answered ${res.status}`);
    await res.arrayBuffer();
  });
  const rss = await stop(server.child);
  console.log(`\n## Login throughput (concurrency ${CONCURRENCY}, ${SECONDS} s each)`);
  console.log(`raw argon2id verify (m=${OWASP_PARAMETERS.memoryCost}, t=${OWASP_PARAMETERS.timeCost}, p=1), in this process: ${fmt(raw)} /s`);
  console.log(`gatehouse POST /_auth/login over HTTP (verify + session insert + token): ${fmt(logins)} /s (${fmt(logins / raw, 2)}× raw argon2)`);
  console.log(`gatehouse peak RSS during the run: ${fmt(rss)} MiB`);
}

try {
  const readyMs = await benchReady();
  await benchTokens();
  await benchLogin();
  await benchGate({ readyMs });
} finally {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
}
