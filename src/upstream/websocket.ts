/**
 * WebSocket upgrades in proxy mode: authenticated like any request, then piped
 * to the upstream by http-proxy. A refreshed session cookie rides on the 101.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import httpProxy from 'http-proxy';
import { decideGate } from '../auth/gate.js';
import { judgedHost } from '../auth/hosts.js';
import { methodOverride } from '../auth/method-override.js';
import { normalizePath } from '../auth/paths.js';
import { upstreamHeaders } from '../handlers/proxy.js';
import type { Services } from '../services.js';

const renewedCookie = new WeakMap<IncomingMessage, string>();

export function websocketHandler(services: Services, target: string) {
  const proxy = httpProxy.createProxyServer({ target, ws: true });
  proxy.on('proxyReqWs', (proxyReq, req) => {
    const cookie = renewedCookie.get(req);
    // Registered before http-proxy's own listener, so the 101 it writes carries the cookie.
    if (cookie) proxyReq.on('upgrade', (proxyRes) => void (proxyRes.headers['set-cookie'] = [cookie]));
  });
  proxy.on('error', (_error, _req, socket) => refuse(socket as Duplex, 502, 'Bad Gateway'));

  return (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    upgrade(req, socket, head).catch((error: unknown) => {
      services.log.warn('websocket_refused', { error: String(error) });
      refuse(socket, 400, 'Bad Request');
    });
  };

  async function upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const [rawPath = '', query] = (req.url ?? '').split(/\?(.*)/s);
    const path = normalizePath(rawPath);
    const target = { host: judgedHost(req.headers.host), path, method: 'GET', override: methodOverride(req.headers) };
    const decision = await decideGate(target, req.headers, services);
    if (decision.outcome === 'login') return refuse(socket, 401, 'Unauthorized');
    if (decision.outcome === 'forbidden') return refuse(socket, 403, 'Forbidden');
    if (decision.setCookie) renewedCookie.set(req, decision.setCookie);
    const upgradeHeader = req.headers.upgrade ?? 'websocket';
    req.headers = { ...upstreamHeaders(req, services, decision.claims), connection: 'Upgrade', upgrade: upgradeHeader };
    req.url = query === undefined ? path : `${path}?${query}`;
    proxy.ws(req, socket, head);
  }
}

function refuse(socket: Duplex, status: number, reason: string): void {
  if (!socket.writable) return void socket.destroy();
  socket.end(`HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}
