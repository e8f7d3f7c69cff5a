/** The only module that uses prom-client. Served on the management port only. */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export type Metrics = ReturnType<typeof createMetrics>;

export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'gatehouse_' });
  const requests = new Counter({
    name: 'gatehouse_http_requests_total',
    help: 'Requests by route and status class.',
    labelNames: ['route', 'status'] as const,
    registers: [registry],
  });
  const requestSeconds = new Histogram({
    name: 'gatehouse_http_request_duration_seconds',
    help: 'Request latency by route (verify and proxy among them).',
    labelNames: ['route'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  // Label children looked up once per route and status class, not hashed on every request.
  const counted = new Map<string, { inc(): void }>();
  const timed = new Map<string, { observe(value: number): void }>();
  return {
    registry,
    /** One finished request: on the hot path, so label lookups are cached. */
    recordRequest(route: string, statusCode: number, seconds: number) {
      const status = `${Math.floor(statusCode / 100)}xx`;
      const key = `${route} ${status}`;
      let counter = counted.get(key);
      if (!counter) counted.set(key, (counter = requests.labels(route, status)));
      counter.inc();
      let histogram = timed.get(route);
      if (!histogram) timed.set(route, (histogram = requestSeconds.labels(route)));
      histogram.observe(seconds);
    },
    logins: new Counter({
      name: 'gatehouse_logins_total',
      help: 'Sign-in attempts by result.',
      labelNames: ['result'] as const,
      registers: [registry],
    }),
    refreshes: new Counter({
      name: 'gatehouse_refreshes_total',
      help: 'Refresh-token presentations by decision.',
      labelNames: ['result'] as const,
      registers: [registry],
    }),
    gateDecision: (() => {
      const decisions = new Counter({
        name: 'gatehouse_gate_decisions_total',
        help: 'Proxy and forward-auth decisions by outcome (allow, login, forbidden).',
        labelNames: ['outcome'] as const,
        registers: [registry],
      });
      const byOutcome = { allow: decisions.labels('allow'), login: decisions.labels('login'), forbidden: decisions.labels('forbidden') };
      return (outcome: keyof typeof byOutcome) => byOutcome[outcome].inc();
    })(),
    upstreamErrors: new Counter({
      name: 'gatehouse_upstream_errors_total',
      help: 'Requests the upstream did not answer, by reason.',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    mailSent: new Counter({ name: 'gatehouse_mail_sent_total', help: 'Mails handed to the SMTP server.', registers: [registry] }),
    mailFailed: new Counter({ name: 'gatehouse_mail_failed_total', help: 'Mails given up after every retry.', registers: [registry] }),
    mailQueueDepth: new Gauge({ name: 'gatehouse_mail_queue_depth', help: 'Mails waiting to be sent.', registers: [registry] }),
    tokenCache: new Counter({
      name: 'gatehouse_token_cache_total',
      help: 'Verified-token cache lookups by result (hit, miss).',
      labelNames: ['result'] as const,
      registers: [registry],
    }),
    revocations: new Counter({
      name: 'gatehouse_session_revocations_total',
      help: 'Sessions ended, by reason.',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
  };
}
