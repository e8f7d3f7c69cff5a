/** Starts gatehouse: store, keys, both listeners; and stops it, draining in-flight requests. */
import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { createApp } from './app.js';
import { revocationSyncInterval } from './auth/revocations.js';
import { KEY_RELOAD_MS } from './auth/tokens.js';
import { systemClock, type Clock } from './clock.js';
import { startSummary, type Config, type Listen } from './config.js';
import { createLogger, type Logger } from './log.js';
import { createManagementApp } from './management.js';
import { createMetrics } from './metrics.js';
import { createServices, type Services } from './services.js';
import { openSqlStore } from './store/sql-store.js';
import type { Store } from './store/types.js';

const PRUNE_MS = 10 * 60_000;
const DRAIN_DEADLINE_MS = 20_000;
const DAY_MS = 24 * 60 * 60_000;

export interface RunningGatehouse {
  services: Services;
  /** `host:port` or `unix:/path` as actually bound (port 0 resolved). */
  address: string;
  managementAddress: string;
  close(): Promise<void>;
}

export async function startGatehouse(config: Config, options: { clock?: Clock; log?: Logger; migrate?: boolean } = {}): Promise<RunningGatehouse> {
  const clock = options.clock ?? systemClock;
  const log = options.log ?? createLogger(config.log_level);
  const store = await openSqlStore(config.database_url, { poolSize: config.database_pool_size });
  await prepareSchema(store, options.migrate ?? true);
  const services = await createServices({ config, store, clock, log, metrics: createMetrics() });
  services.metrics.watchStore(() => store.stats());
  await services.keys.init();
  await services.revocations.sync();
  // PostgreSQL: hear revocations as other replicas commit them; the periodic sync below covers any gap.
  const listening = store.watchRevocations?.({
    onRevoked: (ids, sentAt) => {
      services.metrics.revocationNotificationLag.observe(Math.max(0, Date.now() - sentAt) / 1000);
      services.revocations.heard(ids);
    },
    onClaimsChanged: (changes) => services.revocations.claimsChanged(changes),
    onConnected: () => void services.revocations.sync().catch((error: unknown) => log.error('revocation_sync_failed', { error: String(error) })),
    onDisconnected: (error) => log.warn('revocation_listener_lost', { error: String(error) }),
  });
  await services.mail.start();

  // This process among the replicas, for the leases of work only one of them should do at a time.
  const replica = randomUUID();
  const every = (ms: number, task: () => Promise<void>, event: string) =>
    setInterval(() => task().catch((error: unknown) => log.error(event, { error: String(error) })), ms).unref();
  const timers = [
    every(KEY_RELOAD_MS, () => services.keys.reload(), 'key_reload_failed'),
    // Revocations made elsewhere (other replicas, the CLI): often enough to close their tunnels within trust_window.
    every(revocationSyncInterval(config.trust_window), () => services.revocations.sync(), 'revocation_sync_failed'),
    every(PRUNE_MS, () => prune(services, replica), 'prune_failed'),
  ];

  // Proxy mode only: forward-auth and the auth endpoints never load undici or http-proxy.
  const upstream = config.upstream ? (await import('./upstream/forward.js')).createUpstream(config.upstream, config.upstream_timeout, services) : undefined;
  const server = createServer(createApp(services, upstream));
  const sockets = new Set<Socket>();
  const tracked = (socket: Socket) => {
    // Node forgets a TCP peer's address once it disconnects; reading it now caches it, so a client
    // that hangs up mid-request can never pass for a unix-socket (trusted) peer.
    void socket.remoteAddress;
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  };
  server.on('connection', tracked);
  // Proxy mode only. Without an 'upgrade' listener node:http answers an upgrade request like any
  // other, as forward-auth must: Caddy's forward_auth sends its check with Connection: Upgrade.
  const websockets = config.upstream ? (await import('./upstream/websocket.js')).websocketHandler(services, config.upstream) : undefined;
  if (websockets) server.on('upgrade', websockets.upgrade);
  const management = createServer(createManagementApp(services));
  // Its sockets too, and not only for shutdown: sockets of one shape keep node's stream and
  // HTTP code monomorphic; a second shape (health probes) deoptimises it on the hot path.
  management.on('connection', tracked);
  const address = await listen(server, config.listen);
  const managementAddress = await listen(management, config.management_listen);
  const start = startSummary(config, { address, management: managementAddress }, await store.hasUsers());
  log.info('listening', start.listening);
  if (start.firstAccount) log.info('no_account_yet', start.firstAccount);

  return {
    services,
    address,
    managementAddress,
    async close() {
      timers.forEach(clearInterval);
      websockets?.closeAll();
      // A keep-alive connection goes idle once its request is answered: close it then, not after keepAliveTimeout.
      const closeIdle = setInterval(() => [server, management].forEach((s) => s.closeIdleConnections()), 50);
      // Requests still running after the deadline are cut off rather than keeping the process alive.
      const deadline = setTimeout(() => sockets.forEach((socket) => socket.destroy()), DRAIN_DEADLINE_MS);
      await Promise.all([server, management].map(stopAccepting));
      clearInterval(closeIdle);
      clearTimeout(deadline);
      await services.mail.stop();
      await upstream?.close();
      await listening?.close();
      await services.audit.flush();
      await store.close();
      log.info('stopped');
    },
  };
}

/** Migrates, or with --no-migrate (migrations run by a Job before), refuses a database that lacks any. */
async function prepareSchema(store: Store, migrate: boolean): Promise<void> {
  if (migrate) return void (await store.migrate());
  const pending = await store.pendingMigrations();
  if (pending === 0) return;
  await store.close();
  throw new SchemaNotReady(`the database lacks ${pending} migration${pending === 1 ? '' : 's'}; run \`gatehouse migrate\` first (or start without --no-migrate)`);
}

/** Starting was refused for a reason an operator fixes; the CLI prints it as one line. */
export class SchemaNotReady extends Error {}

/**
 * Old rows go: a session a day past its lifetime can neither refresh nor be in any
 * replica's revocation window. One replica at a time does it, the holder of a lease.
 */
async function prune({ store, clock, config }: Services, replica: string): Promise<void> {
  const now = clock.now();
  if (!(await store.takeLease('prune', replica, now, now + PRUNE_MS))) return;
  await store.prune({ eventsBefore: now - Math.max(config.find_time, DAY_MS), sessionsBefore: now - config.session_lifetime - DAY_MS, now });
  if (config.audit_retention > 0) await store.pruneAuditEvents(now - config.audit_retention);
}

function listen(server: Server, at: Listen): Promise<string> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    const done = () => {
      server.off('error', reject);
      const bound = server.address() as AddressInfo | string;
      resolve(typeof bound === 'string' ? `unix:${bound}` : `${bound.family === 'IPv6' ? `[${bound.address}]` : bound.address}:${bound.port}`);
    };
    if (at.kind === 'unix') {
      rmSync(at.path, { force: true });
      server.listen(at.path, done);
    } else {
      server.listen(at.port, at.host, done);
    }
  });
}

/** Stops accepting connections; resolves when in-flight requests have finished. */
function stopAccepting(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}
