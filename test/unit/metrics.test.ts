import { describe, expect, it } from 'vitest';
import { createMetrics } from '../../src/metrics.js';

/** The value of one exposed series, by its name and labels as written in the exposition. */
async function series(metrics: ReturnType<typeof createMetrics>, line: string): Promise<number | undefined> {
  const text = await metrics.registry.metrics();
  const found = text.split('\n').find((candidate) => candidate.startsWith(`${line} `));
  return found === undefined ? undefined : Number(found.slice(line.length + 1));
}

describe('metrics counted outside prom-client and exposed through it', () => {
  it('counts requests by route and status class, with cumulative latency buckets', async () => {
    const metrics = createMetrics();
    metrics.recordRequest('proxy', 200, 0.0007);
    metrics.recordRequest('proxy', 204, 3);
    metrics.recordRequest('proxy', 502, 0.02);
    metrics.recordRequest('/_auth/verify', 401, 0.0001);
    const h = 'gatehouse_http_request_duration_seconds';
    expect(await series(metrics, 'gatehouse_http_requests_total{route="proxy",status="2xx"}')).toBe(2);
    expect(await series(metrics, 'gatehouse_http_requests_total{route="proxy",status="5xx"}')).toBe(1);
    expect(await series(metrics, 'gatehouse_http_requests_total{route="/_auth/verify",status="4xx"}')).toBe(1);
    expect(await series(metrics, `${h}_bucket{route="proxy",status="2xx",le="0.0005"}`)).toBe(0);
    expect(await series(metrics, `${h}_bucket{route="proxy",status="2xx",le="0.001"}`)).toBe(1);
    expect(await series(metrics, `${h}_bucket{route="proxy",status="2xx",le="2.5"}`)).toBe(1);
    expect(await series(metrics, `${h}_bucket{route="proxy",status="2xx",le="+Inf"}`)).toBe(2);
    expect(await series(metrics, `${h}_count{route="proxy",status="2xx"}`)).toBe(2);
    expect(await series(metrics, `${h}_sum{route="proxy",status="2xx"}`)).toBeCloseTo(3.0007, 6);
    expect(await series(metrics, `${h}_bucket{route="/_auth/verify",status="4xx",le="0.0005"}`)).toBe(1);
  });

  it('counts every status beyond 5xx in one series labelled other', async () => {
    const metrics = createMetrics();
    for (const status of [600, 799, 999]) metrics.recordRequest('proxy', status, 0.001);
    const text = await metrics.registry.metrics();
    expect(text.split('\n').filter((line) => line.startsWith('gatehouse_http_request_duration_seconds_count{route="proxy"'))).toEqual([
      'gatehouse_http_request_duration_seconds_count{route="proxy",status="other"} 3',
    ]);
  });

  it('exposes the histogram under its TYPE line, as Prometheus expects', async () => {
    const metrics = createMetrics();
    metrics.recordRequest('proxy', 200, 0.001);
    const text = await metrics.registry.metrics();
    expect(text).toContain('# TYPE gatehouse_http_request_duration_seconds histogram');
    expect(text).toContain('# TYPE gatehouse_http_requests_total counter');
  });

  it('keeps counting across scrapes instead of restarting from zero', async () => {
    const metrics = createMetrics();
    metrics.tokenCache('hit').inc();
    metrics.gateDecision('allow');
    expect(await series(metrics, 'gatehouse_token_cache_total{result="hit"}')).toBe(1);
    metrics.tokenCache('hit').inc();
    metrics.tokenCache('miss').inc();
    metrics.gateDecision('allow');
    metrics.gateDecision('forbidden');
    expect(await series(metrics, 'gatehouse_token_cache_total{result="hit"}')).toBe(2);
    expect(await series(metrics, 'gatehouse_token_cache_total{result="miss"}')).toBe(1);
    expect(await series(metrics, 'gatehouse_gate_decisions_total{outcome="allow"}')).toBe(2);
    expect(await series(metrics, 'gatehouse_gate_decisions_total{outcome="forbidden"}')).toBe(1);
    expect(await series(metrics, 'gatehouse_gate_decisions_total{outcome="login"}')).toBe(0);
  });
});
