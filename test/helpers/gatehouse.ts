/** Starts gatehouse in this process on port 0 with its own temporary database. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fixedClock, type Clock } from '../../src/clock.js';
import { validateConfig, type Config, type RawSettings } from '../../src/config.js';
import { silentLogger, type Logger } from '../../src/log.js';
import { startGatehouse, type RunningGatehouse } from '../../src/server.js';

export type Settings = Record<string, unknown>;

export function testConfig(settings: Settings = {}, dir = tempDir()): Config {
  const raw: RawSettings = new Map();
  const all: Settings = {
    listen: '127.0.0.1:0',
    management_listen: '127.0.0.1:0',
    database_url: `file:${join(dir, 'gatehouse.db')}`,
    log_level: 'error',
    registration: 'open', // most tests register several users; test/http/registration.test.ts covers the default
    ...settings,
  };
  for (const [name, value] of Object.entries(all)) raw.set(name, { value, source: 'test' });
  const { config, errors } = validateConfig(raw);
  if (!config) throw new Error(errors.join('\n'));
  return config;
}

export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'gatehouse-test-'));
}

export interface TestGatehouse extends RunningGatehouse {
  url: string;
  managementUrl: string;
  clock: Clock & { advance(ms: number): void };
  dir: string;
}

/** A gatehouse with a clock that moves only when the test says so; silent unless given a log. */
export async function startTestGatehouse(settings: Settings = {}, { log = silentLogger }: { log?: Logger } = {}): Promise<TestGatehouse> {
  const dir = tempDir();
  const clock = fixedClock(Date.now());
  const running = await startGatehouse(testConfig(settings, dir), { clock, log });
  return {
    ...running,
    url: `http://${running.address}`,
    managementUrl: `http://${running.managementAddress}`,
    clock,
    dir,
    async close() {
      await running.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A JSON POST that does not follow redirects. */
export function postJson(url: string, body: unknown, headers: Record<string, string> = {}) {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
    redirect: 'manual',
  });
}

export interface TokenBody {
  access_token: string;
  refresh_token: string;
  token_type: string;
  expires_in: number;
}

let counter = 0;
export const uniqueName = (prefix = 'user') => `${prefix}${process.pid}x${++counter}`;
export const PASSWORD = 'correct horse battery staple';

let registrations = 0;
/**
 * A client address of its own for each registration (198.18.0.0/15, set aside for
 * network tests), named in X-Forwarded-For (127.0.0.1 is a trusted proxy by default): one test
 * gatehouse registers far more users than the per-address limit allows one client.
 */
const registeringClient = () => `198.18.${(++registrations >> 8) & 0xff}.${registrations & 0xff}`;

/** Registers a user over HTTP and returns its tokens. */
export async function registerUser(gate: { url: string }, username = uniqueName(), extra: Settings = {}): Promise<TokenBody & { username: string }> {
  const res = await postJson(`${gate.url}/_auth/register`, { username, password: PASSWORD, ...extra }, { 'x-forwarded-for': registeringClient() });
  if (res.status !== 201) throw new Error(`register ${username}: ${res.status} ${await res.text()}`);
  return { ...((await res.json()) as TokenBody), username };
}

/** The name=value pairs of a response's Set-Cookie headers. */
export function cookiesOf(res: Response): Record<string, string> {
  return Object.fromEntries(
    res.headers.getSetCookie().map((line) => {
      const [pair] = line.split(';');
      const at = pair!.indexOf('=');
      return [pair!.slice(0, at), pair!.slice(at + 1)];
    }),
  );
}

export const cookieHeader = (cookies: Record<string, string>) =>
  Object.entries(cookies)
    .filter(([, value]) => value !== '')
    .map(([name, value]) => `${name}=${value}`)
    .join('; ');

export interface RawResponse {
  status: number;
  headers: import('node:http').IncomingHttpHeaders;
  body: string;
}

/**
 * A request through node:http, which sends headers exactly as given: fetch drops
 * the ones browsers control (Sec-Fetch-*, Connection) and normalises paths.
 */
export async function rawRequest(url: string, { method = 'GET', path, headers = {} }: { method?: string; path?: string; headers?: Record<string, string> } = {}): Promise<RawResponse> {
  const { request } = await import('node:http');
  const target = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request({ host: target.hostname, port: target.port, method, path: path ?? target.pathname + target.search, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** What a browser holds after loading a form page: the CSRF cookie and the token in the form. */
export async function formCsrf(gate: { url: string }, page = '/_auth/login'): Promise<{ cookie: string; token: string }> {
  const res = await fetch(`${gate.url}${page}`);
  const html = await res.text();
  const token = /name="csrf" value="([^"]+)"/.exec(html)?.[1];
  const cookie = res.headers.getSetCookie().find((line) => line.includes('gatehouse_csrf='))?.split(';')[0];
  if (!token || !cookie) throw new Error(`no CSRF token on ${page}`);
  return { cookie, token };
}

/** A form post as a browser sends it from gatehouse's own page, CSRF token included. */
export async function postForm(gate: { url: string }, path: string, fields: Record<string, string>): Promise<Response> {
  const { cookie, token } = await formCsrf(gate);
  return fetch(`${gate.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie },
    body: new URLSearchParams({ csrf: token, ...fields }),
    redirect: 'manual',
  });
}
