/**
 * WebSocket upgrades in proxy mode: authenticated like any request, then piped
 * to the upstream by http-proxy. A refreshed session cookie rides on the 101.
 * A tunnel lives no longer than its session (SPEC section 5).
 */
import type { ClientRequest, IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import httpProxy from 'http-proxy';
import { decideGate, type GateDeps } from '../auth/gate.js';
import { judgedHost } from '../auth/hosts.js';
import { methodOverride } from '../auth/method-override.js';
import { normalizePath } from '../auth/paths.js';
import type { Logger } from '../log.js';
import type { RevocationList } from '../auth/revocations.js';
import { failureCause } from './headers.js';
import { upstreamHeaders, type RequestHeaderDeps } from './request-headers.js';
import { Tunnels } from './tunnels.js';

/** What upgrades need: the gate, the headers for the upstream, and word of ended sessions. */
export type WebSocketDeps = GateDeps & RequestHeaderDeps & { revocations: RevocationList; log: Logger };

export interface WebSockets {
  /** The server's 'upgrade' listener. */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  /** Cuts every tunnel: they are not requests in flight and would hold a shutdown open for ever. Clients reconnect. */
  closeAll(): void;
}

const renewedCookie = new WeakMap<IncomingMessage, string>();
/** Client sockets already switched to the WebSocket protocol: an HTTP answer would corrupt them. */
const switched = new WeakSet<Duplex>();

export function websocketHandler(services: WebSocketDeps, target: string): WebSockets {
  const tunnels = new Tunnels();
  services.revocations.onRevoked((sessionIds) => {
    const closed = tunnels.close(sessionIds);
    if (closed > 0) services.log.info('websockets_closed', { reason: 'session_ended', count: closed });
  });
  // A tunnel was judged on the groups of its session's token: when they change, the client reconnects and is judged again.
  services.revocations.onClaimsChanged((sessionIds) => {
    const closed = tunnels.close(sessionIds);
    if (closed > 0) services.log.info('websockets_closed', { reason: 'claims_changed', count: closed });
  });
  const proxy = httpProxy.createProxyServer({ target, ws: true });
  proxy.on('proxyReqWs', (proxyReq, req, socket) => {
    const cookie = renewedCookie.get(req);
    // Registered before http-proxy's own listener, so the 101 it writes carries the cookie.
    if (cookie) proxyReq.on('upgrade', (proxyRes) => void (proxyRes.headers['set-cookie'] = [cookie]));
    closeTogether(proxyReq, socket);
  });
  proxy.on('error', (error, _req, socket) => {
    const client = socket as Duplex;
    // A tunnel cut on our side (its session ended) is no failure of the upstream.
    if (client.destroyed) return;
    services.metrics.upstreamErrors.inc({ reason: 'websocket_failed' });
    services.log.warn('upstream_failed', { reason: 'websocket_failed', cause: failureCause(error) });
    if (switched.has(client)) client.destroy();
    else refuse(client, 502, 'Bad Gateway');
  });

  const listener = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    tunnels.add(socket);
    upgrade(req, socket, head).catch((error: unknown) => {
      services.log.warn('websocket_refused', { error: String(error) });
      refuse(socket, 400, 'Bad Request');
    });
  };
  return { upgrade: listener, closeAll: () => tunnels.closeAll() };

  async function upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const [rawPath = '', query] = (req.url ?? '').split(/\?(.*)/s);
    const path = normalizePath(rawPath);
    const target = { host: judgedHost(req.headers.host), path, method: 'GET', override: methodOverride(req.headers) };
    const decision = await decideGate(target, req.headers, services);
    if (decision.outcome === 'login') return refuse(socket, 401, 'Unauthorized');
    if (decision.outcome === 'forbidden') return refuse(socket, 403, 'Forbidden');
    // The client left while it was being judged: its 'close' has passed, nothing would close the upstream side.
    if (socket.destroyed) return;
    const sessionId = decision.claims?.sid;
    if (sessionId !== undefined) {
      tunnels.file(socket, sessionId);
      // Revoked while the decision was being made (a refresh reads the store): too late for the gate, not for us.
      if (services.revocations.has(sessionId)) return void socket.destroy();
    }
    if (decision.setCookie) renewedCookie.set(req, decision.setCookie);
    const upgradeHeader = req.headers.upgrade ?? 'websocket';
    req.headers = { ...upstreamHeaders(req, services, decision.claims), connection: 'Upgrade', upgrade: upgradeHeader };
    req.url = query === undefined ? path : `${path}?${query}`;
    proxy.ws(req, socket, head);
  }
}

/**
 * When the client's side of a tunnel closes, so does the upstream's: http-proxy ends
 * it only after a clean end, not when we cut the client off.
 */
function closeTogether(proxyReq: ClientRequest, socket: Duplex): void {
  let upstreamSocket: Duplex | undefined;
  proxyReq.on('upgrade', (_res, proxySocket: Duplex) => {
    switched.add(socket);
    upstreamSocket = proxySocket;
  });
  socket.once('close', () => {
    proxyReq.destroy();
    upstreamSocket?.destroy();
  });
}

function refuse(socket: Duplex, status: number, reason: string): void {
  if (!socket.writable) return void socket.destroy();
  socket.end(`HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}
