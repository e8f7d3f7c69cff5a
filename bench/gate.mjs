// The gate under load: gatehouse (forward-auth, proxy mode, behind nginx) beside the baselines
// it should be measured against, each a separate process, measured in interleaved rounds.
// Called from bench/run.mjs; prints numbers only and never fails because a target is missed.
//
// Run as `node bench/gate.mjs serve <role>` it is one of the baseline servers instead (see serveRole).
//
// Knobs (environment): GATE_ROUNDS (5), GATE_SECONDS (5), GATE_WARMUP (1 s before every run),
// GATE_PRIME (2 s per target once, before round 1: a fresh process is far slower), GATE_CONNECTIONS (50),
// GATE_LOADGEN (wrk | autocannon; default wrk when installed), GATE_TARGETS (keys to run, comma-separated: bare,
// undici, undiciTuned, undiciRequest, verify, proxy, express, nginx, nginxGate; default all), GATE_CPU_PROF=<dir> (gatehouse
// processes write a .cpuprofile there when they stop: for finding hot spots, not for the numbers), GATE_LOG_REQUESTS
// (denied | all | off: gatehouse's log_requests, with log_level info so that its lines are written).
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { availableParallelism, tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const SELF = fileURLToPath(import.meta.url);
const ROOT = join(dirname(SELF), '..');

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade']);

// ---------------------------------------------------------------------------------------------
// Child roles: the baselines. Each listens on 127.0.0.1:0 and prints {"port":N} when ready.
// ---------------------------------------------------------------------------------------------

async function serveRole(role) {
  const upstream = process.env.GATE_UPSTREAM;
  let handler;
  if (role === 'bare') {
    // The ceiling for any Node server here: no routing, no parsing beyond node:http's own.
    handler = (req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '2' });
      res.end('ok');
    };
  } else if (role === 'undici' || role === 'undici-request') {
    // The ceiling for a Node proxy: an undici Pool (gatehouse's settings), hop-by-hop headers dropped
    // both ways, the answer piped back. 'undici' uses pool.stream (the answer body written straight
    // into res: the cheapest undici API); 'undici-request' is the shape of gatehouse's
    // upstream/forward.ts (pool.request, then stream/promises pipeline), to see what that shape costs.
    const { Pool } = await import('undici');
    const { pipeline } = await import('node:stream/promises');
    const pool = new Pool(upstream, { connections: 128, keepAliveTimeout: 30_000 });
    const strip = (headers) => {
      const out = {};
      for (const [name, value] of Object.entries(headers)) if (value !== undefined && !HOP_BY_HOP.has(name)) out[name] = value;
      return out;
    };
    const options = (req) => {
      const hasBody = req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined;
      return { method: req.method, path: req.url, headers: strip(req.headers), body: hasBody ? req : null };
    };
    const failed = (res) => (res.headersSent ? res.destroy() : res.writeHead(502).end());
    handler =
      role === 'undici'
        ? (req, res) => {
            pool
              .stream(options(req), ({ statusCode, headers }) => {
                res.writeHead(statusCode, strip(headers));
                return res;
              })
              .catch(() => failed(res));
          }
        : async (req, res) => {
            try {
              const answer = await pool.request(options(req));
              res.writeHead(answer.statusCode, strip(answer.headers));
              await pipeline(answer.body, res).catch(() => res.destroy());
            } catch {
              failed(res);
            }
          };
  } else if (role === 'express') {
    // What a Node user would write instead: express, a bearer-JWT check, http-proxy-middleware.
    // express-jwt cannot be used: it verifies with jsonwebtoken 9, which has no EdDSA ("Unknown key
    // type ed25519"), so this middleware does what express-jwt does (Bearer → verify → req.auth →
    // 401) with jose, pinned like gatehouse (alg, issuer, audience, typ) against the served JWKS.
    const { default: express } = await import('express');
    const { createProxyMiddleware } = await import('http-proxy-middleware');
    const jose = await import('jose');
    const { Agent } = await import('node:http');
    const jwks = jose.createLocalJWKSet(JSON.parse(process.env.GATE_JWKS));
    const issuer = process.env.GATE_ISSUER;
    const app = express();
    app.use(async (req, res, next) => {
      const token = /^Bearer +(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
      if (!token) return res.status(401).json({ error: 'unauthorized' });
      try {
        const { payload } = await jose.jwtVerify(token, jwks, { algorithms: ['EdDSA'], issuer, audience: issuer, typ: 'at+jwt' });
        req.auth = payload;
        req.headers['x-auth-user'] = String(payload.username ?? '');
        next();
      } catch {
        res.status(401).json({ error: 'invalid_token' });
      }
    });
    // A keep-alive agent: http-proxy's default (agent: false) opens a new upstream connection per request.
    app.use(createProxyMiddleware({ target: upstream, xfwd: true, agent: new Agent({ keepAlive: true }) }));
    handler = app;
  } else {
    throw new Error(`unknown role ${role}`);
  }
  const server = createServer(handler);
  server.listen(0, '127.0.0.1', () => console.log(JSON.stringify({ port: server.address().port })));
  process.once('SIGTERM', () => process.exit(0));
}

if (process.argv[1] === SELF && process.argv[2] === 'serve') await serveRole(process.argv[3]);

// ---------------------------------------------------------------------------------------------
// The bench.
// ---------------------------------------------------------------------------------------------

const num = (name, fallback) => (process.env[name] ? Number(process.env[name]) : fallback);
const ROUNDS = num('GATE_ROUNDS', 5);
const PRIME = num('GATE_PRIME', 2);
const SECONDS = num('GATE_SECONDS', 5);
const WARMUP = num('GATE_WARMUP', 1);
const CONNECTIONS = num('GATE_CONNECTIONS', 50);
const PASSWORD = 'correct horse battery staple, benchmarked';

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (n, digits = 1) => (n === undefined || Number.isNaN(n) ? 'n/a' : n.toFixed(digits));
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function which(command) {
  try {
    return execFileSync('sh', ['-c', `command -v ${command}`], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}

// --- /proc -----------------------------------------------------------------------------------

const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** Fields of /proc/<pid>/stat after the command name; field n (1-based, man proc) is at [n - 3]. */
const statFields = (pid) => {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
};
/** utime + stime of the process (all its threads), in seconds. */
const cpuSeconds = (pid) => {
  const f = statFields(pid);
  return (Number(f[11]) + Number(f[12])) / CLK_TCK;
};
const peakRssMiB = (pid) => Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024;
/** The highest VmHWM ever read per PID: runs reset VmHWM, so lifetime peaks are kept here. */
const lifetimePeaks = new Map();
const observePeak = (pid) => {
  const peak = peakRssMiB(pid);
  lifetimePeaks.set(pid, Math.max(peak, lifetimePeaks.get(pid) ?? 0));
  return peak;
};
/** Resets VmHWM to the current RSS (Linux clear_refs 5), so a run's peak is its own. */
const resetPeakRss = (pid) => {
  observePeak(pid);
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
};
/** Busy and total jiffies per CPU, from /proc/stat. */
const cpuTimes = () =>
  readFileSync('/proc/stat', 'utf8')
    .split('\n')
    .filter((line) => /^cpu\d+ /.test(line))
    .map((line) => {
      const [, ...values] = line.trim().split(/\s+/);
      const v = values.map(Number);
      const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
      // tasks: user + nice + system, what processes are charged; busy also has irq, softirq (loopback TCP) and steal.
      return { busy: total - v[3] - v[4], tasks: v[0] + v[1] + v[2], total };
    });
const childrenOf = (ppid) =>
  readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .filter((pid) => {
      try {
        return Number(statFields(pid)[1]) === ppid;
      } catch {
        return false;
      }
    })
    .map(Number);

// --- processes -------------------------------------------------------------------------------

const children = new Set();
const extraPids = new Set(); // processes we did not spawn directly (nginx's worker)
const dirs = [];
let pinned = false;

const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-gate-'));
  dirs.push(dir);
  return dir;
};

/** Spawns a process, pinned to `core` with taskset when pinning is on; keeps the tail of its output. */
function start(name, command, args, { env = {}, core } = {}) {
  const [file, argv] = pinned && core !== undefined ? ['taskset', ['-c', String(core), command, ...args]] : [command, args];
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('GATEHOUSE_')));
  const child = spawn(file, argv, { cwd: ROOT, env: { ...inherited, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  child.label = name;
  child.output = '';
  const keep = (chunk) => (child.output = (child.output + chunk).slice(-65536));
  child.stdout.setEncoding('utf8').on('data', keep);
  child.stderr.setEncoding('utf8').on('data', keep);
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

const alive = (child) => child.exitCode === null && child.signalCode === null;

async function stop(child) {
  if (!alive(child)) return;
  child.kill('SIGTERM');
  const force = setTimeout(() => alive(child) && child.kill('SIGKILL'), 5000);
  await once(child, 'exit').catch(() => {});
  clearTimeout(force);
}

/** Last resort (exit, signal): every child by its PID, now. */
function killAllNow() {
  for (const child of children) if (alive(child)) child.kill('SIGKILL');
  for (const pid of extraPids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {}
  }
}

function waitForLine(child, test, ms = 20_000) {
  return new Promise((resolve, reject) => {
    let buffer = '';
    const timer = setTimeout(() => done(new Error(`${child.label}: not ready after ${ms} ms\n${child.output}`)), ms);
    const onData = (chunk) => {
      buffer += chunk;
      for (const line of buffer.split('\n').slice(0, -1)) {
        const value = test(line);
        if (value !== undefined) return done(undefined, value);
      }
      buffer = buffer.slice(buffer.lastIndexOf('\n') + 1);
    };
    const onExit = (code) => done(new Error(`${child.label} exited (${code}) before it was ready\n${child.output}`));
    const done = (error, value) => {
      clearTimeout(timer);
      child.stdout.off('data', onData);
      child.off('exit', onExit);
      error ? reject(error) : resolve(value);
    };
    child.stdout.on('data', onData);
    child.once('exit', onExit);
  });
}

const freePort = () =>
  new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });

async function startRole(role, core, env = {}, nodeFlags = []) {
  const child = start(role, process.execPath, [...nodeFlags, SELF, 'serve', role], { env, core });
  const { port } = await waitForLine(child, (line) => (line.startsWith('{"port"') ? JSON.parse(line) : undefined));
  return { child, pid: child.pid, port, url: `http://127.0.0.1:${port}` };
}

/** The node flags (of proxy mode) and glibc setting bin/gatehouse starts gatehouse with, read from the script itself. */
function launcherSettings() {
  const script = readFileSync(join(ROOT, 'bin/gatehouse'), 'utf8');
  const flags = /^proxy_flags='([^']*)'$/m.exec(script)?.[1].split(' ').filter(Boolean);
  const threshold = /MALLOC_MMAP_THRESHOLD_:-(\d+)/.exec(script)?.[1];
  if (!flags || !threshold) throw new Error('bin/gatehouse: its default node flags or mmap threshold are no longer where the bench reads them');
  return { flags, env: { MALLOC_MMAP_THRESHOLD_: process.env.MALLOC_MMAP_THRESHOLD_ ?? threshold } };
}

async function startGatehouse(name, core, upstream) {
  const dir = tempDir();
  const [port, management] = [await freePort(), await freePort()];
  const profile = process.env.GATE_CPU_PROF;
  if (profile) mkdirSync(profile, { recursive: true });
  const profiling = profile ? { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${profile} --cpu-prof-name=${name}-${Date.now()}.cpuprofile` } : {};
  // Started as operators start it (npm start, the package bin): bin/gatehouse, with this node first on PATH.
  const child = start(name, join(ROOT, 'bin/gatehouse'), ['serve'], {
    core,
    env: {
      ...profiling,
      PATH: `${dirname(process.execPath)}${delimiter}${process.env.PATH}`,
      GATEHOUSE_DATABASE_URL: `file:${join(dir, 'g.db')}`,
      GATEHOUSE_LISTEN: `127.0.0.1:${port}`,
      GATEHOUSE_MANAGEMENT_LISTEN: `127.0.0.1:${management}`,
      GATEHOUSE_LOG_LEVEL: 'warn',
      GATEHOUSE_TRUST_WINDOW: '1h',
      // The request log's cost: its lines are info lines, so the level goes down with it.
      ...(process.env.GATE_LOG_REQUESTS ? { GATEHOUSE_LOG_REQUESTS: process.env.GATE_LOG_REQUESTS, GATEHOUSE_LOG_LEVEL: 'info' } : {}),
      ...(upstream ? { GATEHOUSE_UPSTREAM: upstream } : {}),
    },
  });
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (!alive(child)) throw new Error(`${name} exited before it was ready\n${child.output}`);
    const res = await fetch(`http://127.0.0.1:${management}/readyz`).catch(() => undefined);
    await res?.arrayBuffer();
    if (res?.status === 200) break;
    if (Date.now() > deadline) throw new Error(`${name}: /readyz not 200 after 30 s\n${child.output}`);
    await sleep(50);
  }
  const url = `http://127.0.0.1:${port}`;
  const res = await fetch(`${url}/_auth/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'bench', password: PASSWORD }),
  });
  const body = await res.json().catch(() => ({}));
  if (res.status !== 201 || !body.access_token) throw new Error(`${name}: register answered ${res.status} ${JSON.stringify(body)}`);
  const idleRssMiB = Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))[1]) / 1024;
  observePeak(child.pid);
  return { child, pid: child.pid, port, url, token: body.access_token, idleRssMiB };
}

function nginxConfig(dir, { plainPort, gatePort, appPort, gatehousePort }) {
  const upstreamHeaders = `
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;`;
  // The gated server follows deploy/nginx/gatehouse.conf (minus /_auth/ pages and the @login redirect).
  return `worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  # keepalive above the client connections, so no request opens a connection; below node's 5 s idle close.
  upstream app { server 127.0.0.1:${appPort}; keepalive 128; keepalive_requests 1000000; keepalive_timeout 4s; }
  upstream gatehouse { server 127.0.0.1:${gatehousePort}; keepalive 128; keepalive_requests 1000000; keepalive_timeout 4s; }
  server {
    listen 127.0.0.1:${plainPort};
    location / {
      proxy_pass http://app;${upstreamHeaders}
    }
  }
  server {
    listen 127.0.0.1:${gatePort};
    location = /_auth/verify {
      internal;
      proxy_pass http://gatehouse;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_pass_request_body off;
      proxy_set_header Content-Length "";
      proxy_set_header X-Original-URL $scheme://$http_host$request_uri;
      proxy_set_header X-Original-Method $request_method;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Method "";
      proxy_set_header X-Forwarded-Proto "";
      proxy_set_header X-Forwarded-Host "";
      proxy_set_header X-Forwarded-Uri "";
    }
    location / {
      auth_request /_auth/verify;
      auth_request_set $auth_user $upstream_http_x_auth_user;
      auth_request_set $auth_user_id $upstream_http_x_auth_user_id;
      auth_request_set $auth_email $upstream_http_x_auth_email;
      auth_request_set $auth_groups $upstream_http_x_auth_groups;
      auth_request_set $auth_cookie $upstream_http_set_cookie;
      add_header Set-Cookie $auth_cookie always;
      proxy_pass http://app;${upstreamHeaders}
      proxy_set_header X-Auth-User $auth_user;
      proxy_set_header X-Auth-User-Id $auth_user_id;
      proxy_set_header X-Auth-Email $auth_email;
      proxy_set_header X-Auth-Groups $auth_groups;
    }
  }
}
`;
}

async function startNginx(nginx, app, gatehouse) {
  const dir = tempDir();
  const ports = { plainPort: await freePort(), gatePort: await freePort(), appPort: app.port, gatehousePort: gatehouse.port };
  const conf = join(dir, 'nginx.conf');
  writeFileSync(conf, nginxConfig(dir, ports));
  const child = start('nginx', nginx, ['-p', `${dir}/`, '-e', `${dir}/error.log`, '-c', conf], { core: 0 });
  const deadline = Date.now() + 10_000;
  let worker;
  while (!worker) {
    if (!alive(child)) throw new Error(`nginx exited: ${child.output}${readFileSync(join(dir, 'error.log'), 'utf8')}`);
    if (Date.now() > deadline) throw new Error('nginx: no worker after 10 s');
    await sleep(50);
    worker = childrenOf(child.pid)[0];
  }
  extraPids.add(worker);
  for (;;) {
    const res = await fetch(`http://127.0.0.1:${ports.plainPort}/`).catch(() => undefined);
    await res?.arrayBuffer();
    if (res) break;
    if (Date.now() > deadline) throw new Error('nginx: not answering after 10 s');
    await sleep(50);
  }
  return { child, master: child.pid, worker, dir, ...ports };
}

async function stopNginx(nginx) {
  await stop(nginx.child);
  try {
    process.kill(nginx.worker, 0);
    process.kill(nginx.worker, 'SIGKILL');
  } catch {}
  extraPids.delete(nginx.worker);
}

// --- load ------------------------------------------------------------------------------------

const UNITS = { us: 1e-3, ms: 1, s: 1000, m: 60_000 };
const toMs = (text) => {
  const match = /^([\d.]+)(us|ms|s|m)$/.exec(text);
  return match ? Number(match[1]) * UNITS[match[2]] : NaN;
};

/** One load run; requests/s, p50/p99 (ms), requests done, non-2xx and socket errors. */
async function load(loadgen, target, seconds) {
  const headerPairs = Object.entries(target.headers ?? {});
  if (loadgen === 'wrk') {
    const args = ['-t1', `-c${CONNECTIONS}`, `-d${seconds}s`, '--latency', ...headerPairs.flatMap(([k, v]) => ['-H', `${k}: ${v}`]), target.url];
    const child = start('wrk', 'wrk', args, { core: 1 });
    const [code] = await once(child, 'close');
    const out = child.output;
    if (code !== 0) throw new Error(`wrk exited ${code}: ${out}`);
    const requests = Number(/(\d+) requests in/.exec(out)?.[1]);
    const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
    return {
      rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]),
      p50: toMs(/\s50%\s+(\S+)/.exec(out)?.[1] ?? ''),
      p99: toMs(/\s99%\s+(\S+)/.exec(out)?.[1] ?? ''),
      requests,
      // wrk counts only statuses outside 2xx/3xx; the preflight checks each target answers 200.
      non2xx: Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0),
      errors: socket ? socket.slice(1).reduce((a, b) => a + Number(b), 0) : 0,
    };
  }
  const bin = join(ROOT, 'node_modules/autocannon/autocannon.js');
  const args = [bin, '-c', String(CONNECTIONS), '-d', String(seconds), '-j', ...headerPairs.flatMap(([k, v]) => ['-H', `${k}=${v}`]), target.url];
  const child = start('autocannon', process.execPath, args, { core: 1 });
  const [code] = await once(child, 'close');
  if (code !== 0) throw new Error(`autocannon exited ${code}: ${child.output}`);
  const result = JSON.parse(child.output.slice(child.output.indexOf('{"')));
  return {
    rps: result.requests.total / result.duration,
    p50: result.latency.p50,
    p99: result.latency.p99,
    requests: result.requests.total,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
  };
}

/** A warm-up, then a measured run with CPU time and peak RSS of the processes under test. */
async function measure(loadgen, target) {
  const pids = target.pids();
  pids.forEach(resetPeakRss);
  await load(loadgen, target, WARMUP);
  const cpuBefore = pids.map(cpuSeconds);
  const coresBefore = cpuTimes();
  const run = await load(loadgen, target, SECONDS);
  const cpu = pids.map((pid, i) => cpuSeconds(pid) - cpuBefore[i]);
  const coresAfter = cpuTimes();
  const busy = coresAfter.map((c, i) => (100 * (c.busy - coresBefore[i].busy)) / Math.max(1, c.total - coresBefore[i].total));
  const elapsed = (coresAfter[0].total - coresBefore[0].total) / CLK_TCK;
  const tasks0 = (coresAfter[0].tasks - coresBefore[0].tasks) / CLK_TCK;
  // Core 0 holds only the servers under test (the others idle): process time there not charged to them is background load.
  const foreign = pinned ? Math.max(0, (100 * (tasks0 - cpu.reduce((a, b) => a + b, 0))) / Math.max(elapsed, 1e-9)) : NaN;
  return {
    foreign,
    ...run,
    cpuUs: (cpu.reduce((a, b) => a + b, 0) * 1e6) / run.requests,
    cpuUsEach: cpu.map((s) => (s * 1e6) / run.requests),
    rssMiB: pids.map(observePeak).reduce((a, b) => a + b, 0),
    core0: busy[0],
    core1: busy[1],
  };
}

/** Every target must answer 200 with its credentials (and 401 without, where there is a gate). */
async function preflight(target) {
  const res = await fetch(target.url, { headers: target.headers });
  const body = await res.text();
  if (res.status !== 200) return `answered ${res.status} with credentials: ${body.slice(0, 200)}`;
  if (target.body !== undefined && body !== target.body) return `answered body ${JSON.stringify(body.slice(0, 80))}, expected ${JSON.stringify(target.body)}`;
  if (target.gated) {
    const { authorization: _omit, ...anonymous } = target.headers;
    const denied = await fetch(target.url, { headers: anonymous });
    await denied.arrayBuffer();
    if (denied.status !== 401) return `answered ${denied.status} without a token (expected 401): the gate is not engaged`;
  }
  return undefined;
}

// --- report ----------------------------------------------------------------------------------

function table(rows) {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((row) => String(row[c]).length)));
  return rows.map((row) => row.map((cell, c) => (c === 0 ? String(cell).padEnd(widths[c]) : String(cell).padStart(widths[c]))).join('  ')).join('\n');
}

const verdict = (value, ok) => (value === undefined || Number.isNaN(value) || ok ? '' : '  target missed');

export async function benchGate({ readyMs } = {}) {
  const onSignal = (signal) => {
    killAllNow();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  process.on('exit', killAllNow);
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const notes = [];
  const gatehouses = [];
  let nginx;
  try {
    const cores = availableParallelism();
    pinned = Boolean(which('taskset')) && cores >= 2;
    if (!pinned) notes.push(`UNPINNED: ${which('taskset') ? `only ${cores} core(s)` : 'taskset not found'}; server and load generator share the CPUs`);
    const loadgen = process.env.GATE_LOADGEN ?? (which('wrk') ? 'wrk' : 'autocannon');
    if (loadgen !== 'wrk') notes.push('load generator: autocannon (wrk not installed: apt-get install -y wrk); a Node load generator may be the bottleneck');
    const nginxBin = which('nginx') ?? (existsSync('/usr/sbin/nginx') ? '/usr/sbin/nginx' : undefined);

    // The upstream and the load generator share core 1; every server under test runs on core 0.
    const upstream = await startRole('bare', 1);
    const bare = await startRole('bare', 0);
    const undici = await startRole('undici', 0, { GATE_UPSTREAM: upstream.url });
    const launcher = launcherSettings();
    const undiciTuned = await startRole('undici', 0, { GATE_UPSTREAM: upstream.url, ...launcher.env }, launcher.flags);
    const undiciRequest = await startRole('undici-request', 0, { GATE_UPSTREAM: upstream.url });
    const verify = await startGatehouse('gatehouse-verify', 0);
    const proxy = await startGatehouse('gatehouse-proxy', 0, upstream.url);
    gatehouses.push(verify, proxy);
    const jwks = await (await fetch(`${proxy.url}/_auth/jwks.json`)).text();
    const express = await startRole('express', 0, { GATE_UPSTREAM: upstream.url, GATE_JWKS: jwks, GATE_ISSUER: 'http://localhost:4180' });
    if (nginxBin) {
      try {
        nginx = await startNginx(nginxBin, upstream, verify);
      } catch (error) {
        notes.push(`nginx skipped: ${String(error.message).split('\n').slice(0, 3).join(' ')}`);
      }
    } else {
      notes.push('nginx skipped: not installed');
    }

    const bearer = (token) => ({ authorization: `Bearer ${token}` });
    // What nginx's auth_request sends (gatehouse wants the method beside the URL).
    const verifyHeaders = { 'x-original-url': 'http://localhost/app', 'x-original-method': 'GET', ...bearer(verify.token) };
    // Each baseline gets the same request headers as the gatehouse target it is compared with, so it
    // parses (and, for proxies, forwards) the same bytes; only the gate differs.
    const targets = [
      { key: 'bare', label: 'bare node http', url: `${bare.url}/app`, headers: verifyHeaders, body: 'ok', pids: () => [bare.pid] },
      {
        key: 'undici',
        label: 'bare undici proxy (pool.stream) → bare',
        url: `${undici.url}/app`,
        headers: bearer(proxy.token),
        body: 'ok',
        pids: () => [undici.pid],
      },
      {
        key: 'undiciTuned',
        label: "  the same, gatehouse's node settings",
        url: `${undiciTuned.url}/app`,
        headers: bearer(proxy.token),
        body: 'ok',
        pids: () => [undiciTuned.pid],
      },
      {
        key: 'undiciRequest',
        label: 'undici proxy, request+pipeline → bare',
        url: `${undiciRequest.url}/app`,
        headers: bearer(proxy.token),
        body: 'ok',
        pids: () => [undiciRequest.pid],
      },
      {
        key: 'verify',
        label: 'gatehouse /_auth/verify',
        url: `${verify.url}/_auth/verify`,
        headers: verifyHeaders,
        body: '',
        gated: true,
        pids: () => [verify.pid],
      },
      { key: 'proxy', label: 'gatehouse proxy → bare', url: `${proxy.url}/app`, headers: bearer(proxy.token), body: 'ok', gated: true, pids: () => [proxy.pid] },
      { key: 'express', label: 'express+jose+h-p-m → bare', url: `${express.url}/app`, headers: bearer(proxy.token), body: 'ok', gated: true, pids: () => [express.pid] },
    ];
    if (nginx) {
      targets.push(
        {
          key: 'nginx',
          label: 'nginx → bare (no auth)',
          url: `http://127.0.0.1:${nginx.plainPort}/app`,
          headers: bearer(verify.token),
          body: 'ok',
          pids: () => [nginx.worker],
        },
        {
          key: 'nginxGate',
          label: 'nginx auth_request gatehouse → bare',
          url: `http://127.0.0.1:${nginx.gatePort}/app`,
          headers: bearer(verify.token),
          body: 'ok',
          gated: true,
          pids: () => [nginx.worker, verify.pid],
        },
      );
    }
    const only = process.env.GATE_TARGETS?.split(',');
    const runnable = [];
    for (const target of targets.filter((t) => !only || only.includes(t.key))) {
      const problem = await preflight(target);
      if (problem) notes.push(`${target.label}: SKIPPED, ${problem}`);
      else runnable.push(target);
    }

    if (PRIME > 0) for (const target of runnable) await load(loadgen, target, PRIME);
    const results = new Map(runnable.map((t) => [t.key, []]));
    for (let round = 1; round <= ROUNDS; round++) {
      for (const target of runnable) results.get(target.key).push(await measure(loadgen, target));
    }

    // --- print ---
    gatehouses.forEach((g) => observePeak(g.pid));
    const lifetimePeak = Math.max(...gatehouses.map((g) => lifetimePeaks.get(g.pid)));
    if (nginx) {
      const errors = readFileSync(join(nginx.dir, 'error.log'), 'utf8').split('\n').filter((l) => /\[(error|crit|alert|emerg)\]/.test(l));
      if (errors.length > 0) notes.push(`nginx logged ${errors.length} error(s), e.g. ${errors[0].slice(0, 200)}`);
    }
    console.log(`\n## The gate under load (${loadgen} ${loadgen === 'wrk' ? '-t1 ' : ''}-c${CONNECTIONS}; ${WARMUP} s warm-up + ${SECONDS} s measured; median of ${ROUNDS} interleaved rounds, after ${PRIME} s priming each)`);
    console.log(pinned ? 'server under test on core 0; load generator and upstream (bare node) on core 1 (taskset)' : notes.shift());
    const rows = [['target', 'req/s', '(min–max)', 'p50 ms', 'p99 ms', 'CPU µs/req', 'peak RSS MiB', 'non-2xx', 'sock err', 'core0 %', '(other)', 'core1 %']];
    const med = {};
    for (const target of runnable) {
      const runs = results.get(target.key);
      const m = (field) => median(runs.map((r) => r[field]));
      const rps = runs.map((r) => r.rps);
      med[target.key] = { rps: m('rps'), cpuUs: m('cpuUs'), rssMiB: m('rssMiB'), each: target.pids().map((_, i) => median(runs.map((r) => r.cpuUsEach[i]))) };
      rows.push([
        target.label,
        fmt(m('rps'), 0),
        `${fmt(Math.min(...rps), 0)}–${fmt(Math.max(...rps), 0)}`,
        fmt(m('p50'), 2),
        fmt(m('p99'), 2),
        fmt(m('cpuUs'), 1),
        fmt(m('rssMiB'), 1),
        String(runs.reduce((a, r) => a + r.non2xx, 0)),
        String(runs.reduce((a, r) => a + r.errors, 0)),
        fmt(m('core0'), 0),
        fmt(Math.max(...runs.map((r) => r.foreign)), 0),
        fmt(m('core1'), 0),
      ]);
    }
    console.log(table(rows));
    console.log('CPU µs/req: utime+stime of the process(es) under test ÷ requests (proxies: the proxy only, not the upstream; nginx: its worker;');
    console.log('  nginx auth_request: nginx worker + gatehouse). Peak RSS: VmHWM during the run, summed over those processes.');
    console.log('core0/core1 %: busy share of each core during the run; core0 well under 100 % means the server under test was not the bottleneck.');
    console.log('(other): the largest share of core 0 (user+system time) spent in processes other than those under test, over the rounds: background load.');
    const noisy = [...results.values()].flat().filter((r) => r.foreign > 5).length;
    if (noisy > 0) notes.push(`${noisy} run(s) had over 5 % of core 0 busy with other processes: the machine was not quiet, numbers are noisy`);
    console.log('Requests: every target gets the headers of the gatehouse target it is compared with (bearer token; verify: X-Original-URL/-Method too).');
    console.log('  One token per load: gatehouse verifies its signature once and then hits its verified-token cache; express+jose verifies it every time.');
    console.log(`gatehouse runs as bin/gatehouse starts it (a fixed glibc mmap threshold; in proxy mode ${launcher.flags.join(' ')}); the baselines run with node's defaults,`);
    console.log("  but for the bare undici proxy's second row, which has gatehouse's settings: what those settings cost and save by themselves.");
    console.log('non-2xx: responses outside 2xx/3xx summed over all rounds (each target was first checked to answer 200 with its token and 401 without).');
    for (const note of notes) console.log(`note: ${note}`);

    const ratio = (a, b) => (a === undefined || b === undefined ? undefined : a / b);
    const line = (text, value, digits, ok) => console.log(`${text}: ${fmt(value, digits)}${verdict(value, ok)}`);
    console.log(`\n## Gate ratios (from the medians above)`);
    const vRatio = ratio(med.verify?.cpuUs, med.bare?.cpuUs);
    line('gatehouse verify CPU/request ÷ bare node CPU/request (target ≤ 1.25)', vRatio, 2, vRatio <= 1.25);
    const pRatio = ratio(med.proxy?.cpuUs, med.undici?.cpuUs);
    line('gatehouse proxy CPU/request ÷ bare undici proxy CPU/request (target ≤ 1.25)', pRatio, 2, pRatio <= 1.25);
    const eRatio = ratio(med.proxy?.rps, med.express?.rps);
    line('gatehouse proxy req/s ÷ express+jose+http-proxy-middleware req/s (target ≥ 5)', eRatio, 2, eRatio >= 5);
    if (med.nginx && med.nginxGate) {
      console.log(`nginx + gatehouse auth_request req/s ÷ nginx alone req/s: ${fmt(ratio(med.nginxGate.rps, med.nginx.rps), 2)}`);
      console.log(
        `nginx + gatehouse CPU/request ÷ nginx alone CPU/request: ${fmt(ratio(med.nginxGate.cpuUs, med.nginx.cpuUs), 2)}` +
          ` (${fmt(med.nginxGate.cpuUs)} µs = nginx worker ${fmt(med.nginxGate.each[0])} + gatehouse ${fmt(med.nginxGate.each[1])}; nginx alone ${fmt(med.nginx.cpuUs)} µs)`,
      );
    }
    if (med.proxy && med.undiciTuned) {
      console.log(
        `gatehouse proxy ÷ bare undici proxy with gatehouse's node settings: CPU/request ${fmt(ratio(med.proxy.cpuUs, med.undiciTuned.cpuUs), 2)},` +
          ` peak RSS ${fmt(med.proxy.rssMiB)} vs ${fmt(med.undiciTuned.rssMiB)} MiB`,
      );
    }
    line('gatehouse peak RSS, whole life of the busier gatehouse process, MiB (target ≤ 80)', lifetimePeak, 1, lifetimePeak <= 80);
    console.log(
      `  (RSS after start + one registration, before any load: verify ${fmt(verify.idleRssMiB)} MiB, proxy ${fmt(proxy.idleRssMiB)} MiB;` +
        ` bare node under load: ${fmt(med.bare?.rssMiB)} MiB)`,
    );
    if (readyMs) {
      console.log(`gatehouse ready time (spawn → /readyz 200, median): empty database ${fmt(readyMs.cold)} ms, existing database ${fmt(readyMs.warm)} ms; bare node ${fmt(readyMs.bare)} ms`);
    }
    if (process.env.GATE_CPU_PROF) console.log(`note: gatehouse ran with --cpu-prof (numbers above are slower than usual); profiles in ${process.env.GATE_CPU_PROF}`);
  } finally {
    if (nginx) await stopNginx(nginx).catch(() => {});
    await Promise.all([...children].map((child) => stop(child).catch(() => {})));
    killAllNow();
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
    process.off('exit', killAllNow);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
