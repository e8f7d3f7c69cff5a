/** The request log (setting log_requests): a line per judged request, never a query string, token or cookie. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log.js';
import { rawRequest, registerUser, startTestGatehouse, type TestGatehouse, type TokenBody } from '../helpers/gatehouse.js';
import { startEchoUpstream, type EchoUpstream } from '../helpers/upstream.js';

const RULES = [
  { path: '/blocked', policy: 'deny' },
  { path: '/staff', groups: ['staff'], policy: 'authenticated' },
];

interface Logged {
  gate: TestGatehouse;
  lines: Record<string, unknown>[];
}

let upstream: EchoUpstream;
const gates: Logged[] = [];
const started = async (log_requests?: string): Promise<Logged> => {
  const lines: Record<string, unknown>[] = [];
  const log = createLogger('info', (line) => void lines.push(JSON.parse(line)));
  const settings = { upstream: upstream.url, public_paths: '/open', access_rules: RULES, ...(log_requests && { log_requests }) };
  const logged = { gate: await startTestGatehouse(settings, { log }), lines };
  gates.push(logged);
  return logged;
};
const requestLines = ({ lines }: Logged) => lines.filter((line) => line['event'] === 'request');

beforeAll(async () => {
  upstream = await startEchoUpstream();
});
afterAll(async () => {
  for (const { gate } of gates) await gate.close();
  await upstream.close();
});

/** The same traffic for every mode: allowed, refused, an error of gatehouse's own, a forward-auth check. */
async function traffic({ gate }: Logged, user: TokenBody): Promise<string[]> {
  const bearer = { authorization: `Bearer ${user.access_token}` };
  await fetch(`${gate.url}/app/page?token=query-secret-1`, { headers: bearer });
  await fetch(`${gate.url}/open/thing?q=query-secret-2`);
  await fetch(`${gate.url}/blocked/x?q=query-secret-3`, { headers: bearer });
  await fetch(`${gate.url}/staff/x`, { headers: { ...bearer, cookie: 'gatehouse_session=cookie-secret-4' } });
  await rawRequest(`${gate.url}/app/anonymous?q=query-secret-5`, { headers: { accept: 'text/html', 'sec-fetch-mode': 'navigate' } });
  await fetch(`${gate.url}/_auth/verify`, { headers: { 'x-forwarded-host': 'app.example.com', 'x-forwarded-uri': '/blocked/y?q=query-secret-6', 'x-forwarded-proto': 'https', 'x-forwarded-method': 'GET' } });
  await fetch(`${gate.url}/_auth/nothing-here?q=query-secret-7`);
  return ['query-secret', 'cookie-secret', user.access_token, user.refresh_token, 'Bearer'];
}

describe('the request log', () => {
  it('writes refusals and errors by default, with the rule that decided, and nothing for allowed requests', async () => {
    const logged = await started();
    const user = await registerUser(logged.gate);
    logged.lines.length = 0;
    await traffic(logged, user);
    const lines = requestLines(logged);
    expect(lines.map((l) => [l['method'], l['path'], l['status'], l['decision'], l['rule']])).toEqual([
      ['GET', '/blocked/x', 403, 'deny', 'access_rules[0]'],
      ['GET', '/staff/x', 403, 'deny', 'access_rules[1]'],
      ['GET', '/app/anonymous', 302, 'redirect', 'default'],
      ['GET', '/blocked/y', 403, 'deny', 'access_rules[0]'],
      ['GET', '/_auth/nothing-here', 404, 'deny', undefined],
    ]);
    // A deny rule refuses before anyone is authenticated; a group rule names who was refused.
    expect(lines[0]).toMatchObject({ host: '127.0.0.1', user: '', address: '127.0.0.1', duration_ms: expect.any(Number) });
    expect(lines[1]).toMatchObject({ user: user.username });
    expect(lines[2]).toMatchObject({ user: '', reason: 'no_session' });
    // Forward-auth names the original request, as the proxy in front sent it.
    expect(lines[3]).toMatchObject({ host: 'app.example.com', path: '/blocked/y' });
  });

  it('writes every judged request with all, and gatehouse\'s own endpoints only when they fail', async () => {
    const logged = await started('all');
    const user = await registerUser(logged.gate);
    logged.lines.length = 0;
    await traffic(logged, user);
    const lines = requestLines(logged);
    expect(lines.map((l) => [l['path'], l['decision'], l['rule'] ?? '-'])).toEqual([
      ['/app/page', 'allow', 'default'],
      ['/open/thing', 'allow', 'public_paths[0]'],
      ['/blocked/x', 'deny', 'access_rules[0]'],
      ['/staff/x', 'deny', 'access_rules[1]'],
      ['/app/anonymous', 'redirect', 'default'],
      ['/blocked/y', 'deny', 'access_rules[0]'],
      ['/_auth/nothing-here', 'deny', '-'],
    ]);
    expect(lines[0]).toMatchObject({ status: 200, user: user.username });
  });

  it('writes nothing with off', async () => {
    const logged = await started('off');
    const user = await registerUser(logged.gate);
    await traffic(logged, user);
    expect(requestLines(logged)).toEqual([]);
  });

  it('never writes a query string, a token, a cookie or an Authorization header, in any mode', async () => {
    expect(gates.map((logged) => requestLines(logged).length > 0)).toEqual([true, true, false]);
    for (const logged of gates) {
      const user = await registerUser(logged.gate);
      const secrets = await traffic(logged, user);
      const written = JSON.stringify(requestLines(logged));
      for (const secret of secrets) expect(written).not.toContain(secret);
      expect(written).not.toContain('?');
    }
  });

  it('names the upstream failure an error, even by default', async () => {
    const logged = await started();
    const user = await registerUser(logged.gate);
    await upstream.close();
    try {
      const res = await fetch(`${logged.gate.url}/app/down`, { headers: { authorization: `Bearer ${user.access_token}` } });
      expect(res.status).toBeGreaterThanOrEqual(500);
      expect(requestLines(logged).at(-1)).toMatchObject({ path: '/app/down', decision: 'error', rule: 'default', user: user.username });
    } finally {
      upstream = await startEchoUpstream(new URL(upstream.url).port as unknown as number);
    }
  });
});
