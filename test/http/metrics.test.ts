import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PASSWORD, postJson, startTestGatehouse, type TestGatehouse, type TokenBody } from '../helpers/gatehouse.js';

let gatehouse: TestGatehouse;
beforeAll(async () => {
  gatehouse = await startTestGatehouse();
});
afterAll(() => gatehouse.close());

/** The value of one series on the management port's /metrics, or undefined. */
async function series(line: string): Promise<number | undefined> {
  const text = await (await fetch(`${gatehouse.managementUrl}/metrics`)).text();
  const found = text.split('\n').find((candidate) => candidate.startsWith(`${line} `));
  return found === undefined ? undefined : Number(found.slice(line.length + 1));
}

describe('/metrics counts what the hot path did', () => {
  it('requests by route and status class, gate decisions and token-cache lookups', async () => {
    const res = await postJson(`${gatehouse.url}/_auth/register`, { username: 'counted', password: PASSWORD });
    const { access_token: token } = (await res.json()) as TokenBody;
    const verify = (authorization?: string) =>
      fetch(`${gatehouse.url}/_auth/verify`, {
        headers: { 'x-original-url': 'http://app.example.com/page', 'x-original-method': 'GET', ...(authorization ? { authorization } : {}) },
      });
    expect((await verify(`Bearer ${token}`)).status).toBe(200);
    expect((await verify(`Bearer ${token}`)).status).toBe(200);
    expect((await verify()).status).toBe(401);
    expect((await fetch(`${gatehouse.url}/_auth/nothing-here`)).status).toBe(404);

    expect(await series('gatehouse_http_requests_total{route="/_auth/verify",status="2xx"}')).toBe(2);
    expect(await series('gatehouse_http_requests_total{route="/_auth/verify",status="4xx"}')).toBe(1);
    expect(await series('gatehouse_http_requests_total{route="unmatched",status="4xx"}')).toBe(1);
    expect(await series('gatehouse_http_request_duration_seconds_count{route="/_auth/verify",status="2xx"}')).toBe(2);
    expect(await series('gatehouse_gate_decisions_total{outcome="allow"}')).toBe(2);
    expect(await series('gatehouse_gate_decisions_total{outcome="login"}')).toBe(1);
    const hits = (await series('gatehouse_token_cache_total{result="hit"}')) ?? 0;
    const misses = (await series('gatehouse_token_cache_total{result="miss"}')) ?? 0;
    expect(hits + misses).toBe(2);
    expect(hits).toBeGreaterThanOrEqual(1);
  });

  it('counts verify by its route whether the token is in the cache or not, and a refused method as unmatched', async () => {
    const res = await postJson(`${gatehouse.url}/_auth/register`, { username: 'counted-twice', password: PASSWORD });
    const { access_token: token } = (await res.json()) as TokenBody;
    const route = 'gatehouse_http_requests_total{route="/_auth/verify",status="2xx"}';
    const unmatched = 'gatehouse_http_requests_total{route="unmatched",status="4xx"}';
    const [verified, refused] = [(await series(route)) ?? 0, (await series(unmatched)) ?? 0];
    const headers = { authorization: `Bearer ${token}`, 'x-original-url': 'http://app.example.com/', 'x-original-method': 'GET' };
    // The first check of a token answers from a promise, the next ones without.
    for (const method of ['GET', 'GET', 'HEAD']) expect((await fetch(`${gatehouse.url}/_auth/verify`, { method, headers })).status).toBe(200);
    const post = await fetch(`${gatehouse.url}/_auth/verify`, { method: 'POST', headers });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
    expect(await series(route)).toBe(verified + 3);
    expect(await series(unmatched)).toBe(refused + 1);
  });
});
