/**
 * Real reverse proxies in front of gatehouse: nginx (auth_request), Caddy
 * (forward_auth) and HAProxy (a Lua action), each on 127.0.0.1 with a free
 * port and its whole state in a temporary folder, started and stopped by PID.
 * Their configurations are the operator examples in deploy/, with the
 * placeholders replaced, so the tests exercise exactly what the project ships.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { connect, createServer as createTcpServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebSocketServer } from 'ws';
import { peer, type Peer } from './peers.js';
import { ROOT } from './process.js';

export const nginxPeer = (): Peer => peer('nginx', () => spawnSync('nginx', ['-v']).status === 0, 'apt-get install -y nginx');
export const caddyPeer = (): Peer => peer('caddy', () => spawnSync('caddy', ['version']).status === 0, 'apt-get install -y caddy');
export const haproxyPeer = (): Peer => peer('haproxy', () => spawnSync('haproxy', ['-v']).status === 0, 'apt-get install -y haproxy');

/** A port nobody listens on right now (the proxy binds it a moment later). */
export async function freePort(): Promise<number> {
  const server = createTcpServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * A deploy example with its placeholders replaced. Every placeholder must occur:
 * if the example changes shape, the tests say so instead of testing something else.
 */
export function fromDeployExample(path: string, replacements: [placeholder: string, value: string][]): string {
  let text = readFileSync(join(ROOT, path), 'utf8');
  for (const [placeholder, value] of replacements) {
    if (!text.includes(placeholder)) throw new Error(`${path} no longer contains ${JSON.stringify(placeholder)}`);
    text = text.split(placeholder).join(value);
  }
  return text;
}

export interface RunningProxy {
  name: string;
  url: string;
  port: number;
  pid: number;
  dir: string;
  /** What the proxy wrote to its error log / stderr so far (for failure messages). */
  log(): string;
  stop(): Promise<void>;
}

/** Resolves once something accepts TCP connections on the port; rejects if the child exits first. */
async function waitForPort(port: number, child: ChildProcess, describe: () => string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exited = child.exitCode !== null;
  child.once('exit', () => (exited = true));
  for (;;) {
    if (exited) throw new Error(`exited before listening on ${port}:\n${describe()}`);
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    if (Date.now() > deadline) throw new Error(`not listening on ${port} within ${timeoutMs} ms:\n${describe()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function stopByPid(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  process.kill(child.pid!, signal);
  const timer = setTimeout(() => child.exitCode === null && process.kill(child.pid!, 'SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

/** Waits for the proxy to listen; if it never does, stops it, removes its folder and says why. */
/** Waits until the proxy listens; stopping it (by PID, with its graceful signal) also removes its folder. */
async function running(name: string, child: ChildProcess, port: number, dir: string, log: () => string, signal: NodeJS.Signals): Promise<RunningProxy> {
  await started(child, port, dir, log, signal);
  return {
    name,
    url: `http://127.0.0.1:${port}`,
    port,
    pid: child.pid!,
    dir,
    log,
    async stop() {
      await stopByPid(child, signal);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function started(child: ChildProcess, port: number, dir: string, log: () => string, signal: NodeJS.Signals): Promise<void> {
  try {
    await waitForPort(port, child, log);
  } catch (error) {
    await stopByPid(child, signal);
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

function tempFolder(name: string): string {
  const dir = mkdtempSync(join(tmpdir(), `gatehouse-${name}-`));
  // Under root, nginx's workers run as nobody: they must be able to reach their temp paths.
  chmodSync(dir, 0o755);
  return dir;
}

/**
 * nginx in the foreground with its own prefix, pid, error log and temp paths;
 * `site` is what goes in the http {} context (the deploy example's server block).
 */
export async function startNginx(site: string, port: number): Promise<RunningProxy> {
  const dir = tempFolder('nginx');
  for (const temp of ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) mkdirSync(join(dir, `${temp}_temp`));
  writeFileSync(join(dir, 'site.conf'), site);
  writeFileSync(
    join(dir, 'nginx.conf'),
    `worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 512; }
http {
    access_log ${dir}/access.log;
    client_body_temp_path ${dir}/client_body_temp;
    proxy_temp_path ${dir}/proxy_temp;
    fastcgi_temp_path ${dir}/fastcgi_temp;
    uwsgi_temp_path ${dir}/uwsgi_temp;
    scgi_temp_path ${dir}/scgi_temp;
    include ${dir}/site.conf;
}
`,
  );
  let stderr = '';
  const child = spawn('nginx', ['-p', `${dir}/`, '-c', `${dir}/nginx.conf`, '-e', `${dir}/error.log`, '-g', 'daemon off;'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const log = () => stderr + readQuietly(join(dir, 'error.log'));
  return running('nginx', child, port, dir, log, 'SIGQUIT');
}

/** Caddy with the admin API and automatic HTTPS off, its config and data folders in a temp folder. */
export async function startCaddy(site: string, port: number): Promise<RunningProxy> {
  const dir = tempFolder('caddy');
  const caddyfile = join(dir, 'Caddyfile');
  writeFileSync(caddyfile, `{\n\tadmin off\n\tauto_https off\n}\n\n${site}`);
  let output = '';
  const child = spawn('caddy', ['run', '--config', caddyfile, '--adapter', 'caddyfile'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, HOME: dir, XDG_CONFIG_HOME: join(dir, 'config'), XDG_DATA_HOME: join(dir, 'data') },
  });
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const log = () => output;
  return running('caddy', child, port, dir, log, 'SIGTERM');
}

/**
 * HAProxy in the foreground (-db), its pid file in a temp folder; `config` makes the whole
 * haproxy.cfg given where `lua` (the file its lua-load names) was written.
 */
export async function startHaproxy(config: (luaPath: string) => string, lua: string, port: number): Promise<RunningProxy> {
  const dir = tempFolder('haproxy');
  const luaPath = join(dir, 'gatehouse.lua');
  writeFileSync(luaPath, lua);
  writeFileSync(join(dir, 'haproxy.cfg'), config(luaPath));
  let output = '';
  const child = spawn('haproxy', ['-db', '-f', join(dir, 'haproxy.cfg'), '-p', join(dir, 'haproxy.pid')], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const log = () => output;
  // SIGTERM: stop at once (SIGUSR1 would wait for open WebSockets to end).
  return running('haproxy', child, port, dir, log, 'SIGTERM');
}

function readQuietly(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

export interface Echoed {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface Echo {
  url: string;
  /** Every request the application received, in order. */
  seen: Echoed[];
  close(): Promise<void>;
}

/**
 * The protected application: answers 200 JSON {method, path, headers, body} with
 * what it received; paths under /missing answer the same with 404. A WebSocket is
 * greeted with the same JSON (its body empty) and then hears `echo:` and each message.
 */
export async function startEcho(): Promise<Echo> {
  const seen: Echoed[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      const echoed = { method: req.method!, path: req.url!, headers: req.headers, body };
      seen.push(echoed);
      res.writeHead(req.url!.startsWith('/missing') ? 404 : 200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(echoed));
    });
  });
  const webSockets = new WebSocketServer({ server });
  webSockets.on('connection', (socket, req) => {
    const echoed = { method: req.method!, path: req.url!, headers: req.headers, body: '' };
    seen.push(echoed);
    socket.send(JSON.stringify(echoed));
    socket.on('message', (data) => socket.send(`echo:${data.toString()}`));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    async close() {
      webSockets.clients.forEach((client) => client.terminate());
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

export interface Wiring {
  /** The proxy's own port: its site listens here and it is gatehouse's public_url. */
  port: number;
  /** host:port of gatehouse. */
  gatehouse: string;
  /** host:port of the protected application. */
  app: string;
}

/** deploy/nginx/gatehouse.conf, pointed at a test gatehouse and application. */
export const startNginxFromExample = (w: Wiring) =>
  startNginx(
    fromDeployExample('deploy/nginx/gatehouse.conf', [
      ['server gatehouse:4180;', `server ${w.gatehouse};`],
      ['server app:8080;', `server ${w.app};`],
      ['listen 80;', `listen 127.0.0.1:${w.port};`],
      ['https://app.example.com', `http://127.0.0.1:${w.port}`],
    ]),
    w.port,
  );

/**
 * deploy/haproxy/gatehouse.cfg and the Lua beside it, pointed at a test gatehouse and
 * application; `lua` replaces the example's Lua (to see what the configuration does when it fails).
 */
export const startHaproxyFromExample = (w: Wiring, lua = readFileSync(join(ROOT, 'deploy/haproxy/gatehouse.lua'), 'utf8')) =>
  startHaproxy(
    (luaPath) =>
      fromDeployExample('deploy/haproxy/gatehouse.cfg', [
        ['gatehouse:4180', w.gatehouse],
        ['app:8080', w.app],
        ['bind :80', `bind 127.0.0.1:${w.port}`],
        ['/etc/haproxy/gatehouse.lua', luaPath],
      ]),
    lua,
    w.port,
  );

/** deploy/caddy/Caddyfile, pointed at a test gatehouse and application. */
export const startCaddyFromExample = (w: Wiring) =>
  startCaddy(
    fromDeployExample('deploy/caddy/Caddyfile', [
      // Caddy binds every interface for a site address; the tests keep it on loopback.
      ['app.example.com {', `http://:${w.port} {\n\tbind 127.0.0.1`],
      ['gatehouse:4180', w.gatehouse],
      ['app:8080', w.app],
    ]),
    w.port,
  );
