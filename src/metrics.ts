/** The only module that uses prom-client. Served on the management port only. */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { StoreStats } from './store/types.js';

export type Metrics = ReturnType<typeof createMetrics>;

const STATUS_CLASSES = ['0xx', '1xx', '2xx', '3xx', '4xx', '5xx'];

/**
 * Counts on the hot path (every verify and proxied request) are plain numbers, handed
 * to prom-client only when /metrics is scraped: prom-client hashes and validates the
 * labels on every inc and observe, which was a measured twentieth of a verify call.
 */
class Tally {
  value = 0;
  inc(): void {
    this.value++;
  }
}

/** A prom-client counter whose values are tallied outside it, one Tally per label set. */
function tallied<L extends string>(registry: Registry, name: string, help: string, labelName: L) {
  const tallies = new Map<string, Tally>();
  new Counter({
    name,
    help,
    labelNames: [labelName],
    registers: [registry],
    collect() {
      this.reset();
      for (const [label, tally] of tallies) this.inc({ [labelName]: label } as Record<L, string>, tally.value);
    },
  });
  return (label: string): Tally => {
    let tally = tallies.get(label);
    if (!tally) tallies.set(label, (tally = new Tally()));
    return tally;
  };
}

interface Series {
  route: string;
  status: string;
  buckets: number[];
  sum: number;
  count: number;
}

/**
 * Request latency and count by route and status class. Exposed through prom-client's
 * registry in its histogram format; counted here in arrays, for the reason above.
 */
class RequestHistogram {
  readonly name = 'gatehouse_http_request_duration_seconds';
  readonly help = 'Request latency by route and status class (verify and proxy among the routes).';
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  /** By route, then by status class (an index into STATUS_CLASSES): one map lookup per request. */
  readonly #series = new Map<string, Series[]>();

  constructor(readonly upperBounds: readonly number[]) {}

  observe(route: string, statusCode: number, seconds: number): void {
    let byClass = this.#series.get(route);
    if (!byClass) this.#series.set(route, (byClass = []));
    // Every class beyond 5xx is 'other', one series.
    const statusClass = Math.min(Math.floor(statusCode / 100), STATUS_CLASSES.length);
    let series = byClass[statusClass];
    if (!series) {
      const status = STATUS_CLASSES[statusClass] ?? 'other';
      byClass[statusClass] = series = { route, status, buckets: this.upperBounds.map(() => 0), sum: 0, count: 0 };
    }
    let bucket = 0;
    while (bucket < this.upperBounds.length && seconds > this.upperBounds[bucket]!) bucket++;
    if (bucket < this.upperBounds.length) series.buckets[bucket]!++;
    series.sum += seconds;
    series.count++;
  }

  *#everySeries() {
    for (const byClass of this.#series.values()) for (const series of byClass) if (series) yield series;
  }

  /** Requests per route and status class, for the plain counter beside the histogram. */
  *counts(): Iterable<[{ route: string; status: string }, number]> {
    for (const { route, status, count } of this.#everySeries()) yield [{ route, status }, count];
  }

  /** What prom-client's Registry reads from a metric. */
  get() {
    const values = [];
    for (const { route, status, buckets, sum, count } of this.#everySeries()) {
      let cumulative = 0;
      for (const [i, bound] of this.upperBounds.entries()) {
        cumulative += buckets[i]!;
        values.push({ metricName: `${this.name}_bucket`, labels: { route, status, le: bound }, value: cumulative });
      }
      values.push({ metricName: `${this.name}_bucket`, labels: { route, status, le: '+Inf' }, value: count });
      values.push({ metricName: `${this.name}_sum`, labels: { route, status }, value: sum });
      values.push({ metricName: `${this.name}_count`, labels: { route, status }, value: count });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }
}

export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'gatehouse_' });
  const requests = new RequestHistogram([0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5]);
  registry.registerMetric(requests as unknown as Counter);
  new Counter({
    name: 'gatehouse_http_requests_total',
    help: 'Requests by route and status class.',
    labelNames: ['route', 'status'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [labels, count] of requests.counts()) this.inc(labels, count);
    },
  });
  const decisions = tallied(registry, 'gatehouse_gate_decisions_total', 'Proxy and forward-auth decisions by outcome (allow, login, forbidden).', 'outcome');
  const byOutcome = { allow: decisions('allow'), login: decisions('login'), forbidden: decisions('forbidden') };
  return {
    registry,
    /** One finished request. */
    recordRequest(route: string, statusCode: number, seconds: number) {
      requests.observe(route, statusCode, seconds);
    },
    gateDecision: (outcome: keyof typeof byOutcome) => byOutcome[outcome].inc(),
    /** Verified-token cache lookups by result (hit, miss). */
    tokenCache: tallied(registry, 'gatehouse_token_cache_total', 'Verified-token cache lookups by result (hit, miss).', 'result'),
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
    upstreamErrors: new Counter({
      name: 'gatehouse_upstream_errors_total',
      help: 'Requests the upstream did not answer, by reason.',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    auditWriteFailures: new Counter({
      name: 'gatehouse_audit_write_failures_total',
      help: 'Audit events that could not be stored (each is still in the log, with an audit_write_failed line).',
      registers: [registry],
    }),
    mailSent: new Counter({ name: 'gatehouse_mail_sent_total', help: 'Mails handed to the SMTP server.', registers: [registry] }),
    mailFailed: new Counter({ name: 'gatehouse_mail_failed_total', help: 'Mails given up after every retry.', registers: [registry] }),
    mailQueueDepth: new Gauge({ name: 'gatehouse_mail_queue_depth', help: 'Mails waiting to be sent.', registers: [registry] }),
    revocations: new Counter({
      name: 'gatehouse_session_revocations_total',
      help: 'Sessions ended, by reason.',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    revocationNotificationLag: new Histogram({
      name: 'gatehouse_revocation_notification_lag_seconds',
      help: 'From the commit of a revocation on one replica to its arrival here (PostgreSQL LISTEN/NOTIFY).',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    /** The store's statements, failures and connection pool, read from it at each scrape. */
    watchStore: (stats: () => StoreStats) => watchStore(registry, stats),
  };
}

function watchStore(registry: Registry, stats: () => StoreStats): void {
  new Counter({
    name: 'gatehouse_store_queries_total',
    help: 'Statements sent to the database.',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(stats().queries);
    },
  });
  new Counter({
    name: 'gatehouse_store_errors_total',
    help: 'Statements that failed, by reason (unavailable: the database could not be reached).',
    labelNames: ['reason'],
    registers: [registry],
    collect() {
      const { failures, unavailable } = stats();
      this.reset();
      this.inc({ reason: 'unavailable' }, unavailable);
      this.inc({ reason: 'other' }, failures - unavailable);
    },
  });
  new Gauge({
    name: 'gatehouse_store_pool_connections',
    help: 'PostgreSQL pool connections by state (in_use, idle), and requests waiting for one (waiting).',
    labelNames: ['state'],
    registers: [registry],
    collect() {
      const { pool } = stats();
      this.reset();
      if (!pool) return;
      this.set({ state: 'in_use' }, pool.total - pool.idle);
      this.set({ state: 'idle' }, pool.idle);
      this.set({ state: 'waiting' }, pool.waiting);
    },
  });
}
