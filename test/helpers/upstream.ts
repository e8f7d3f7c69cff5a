/** A protected application for the tests: it echoes what it received, and can misbehave on request. */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';

export interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
}

export interface EchoUpstream {
  url: string;
  port: number;
  seen: Seen[];
  /** Resolves on the next request the upstream receives (before its body is read). */
  nextRequest(): Promise<IncomingMessage>;
  /** The WebSockets open on the upstream's side. */
  webSockets(): Set<WebSocket>;
  close(): Promise<void>;
}

/**
 * Routes: /hang never answers; /reset destroys the connection; /upload answers the
 * SHA-256 and size of the body; /download?mb=N streams N MiB, waiting for /release
 * after the first chunk when ?gate=1; /set-cookie sets one of its own; anything else echoes JSON.
 */
export async function startEchoUpstream(port = 0): Promise<EchoUpstream> {
  const seen: Seen[] = [];
  const waiters: ((req: IncomingMessage) => void)[] = [];
  let release: (() => void) | undefined;
  const server: Server = createServer((req, res) => {
    seen.push({ method: req.method!, url: req.url!, headers: req.headers });
    waiters.splice(0).forEach((resolve) => resolve(req));
    const url = new URL(req.url!, 'http://upstream');
    if (url.pathname === '/hang') return;
    if (url.pathname === '/reset') return void req.socket.destroy();
    if (url.pathname === '/release') {
      release?.();
      return void res.end('released');
    }
    if (url.pathname === '/upload') {
      const hash = createHash('sha256');
      let size = 0;
      req.on('data', (chunk: Buffer) => {
        size += chunk.length;
        hash.update(chunk);
      });
      req.on('end', () => res.end(JSON.stringify({ size, sha256: hash.digest('hex') })));
      return;
    }
    if (url.pathname === '/download') return void download(res, Number(url.searchParams.get('mb') ?? 1), url.searchParams.has('gate'));
    if (url.pathname === '/set-cookie') res.setHeader('set-cookie', 'app=1; Path=/');
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ method: req.method, url: req.url, headers: req.headers }));
  });
  async function download(res: import('node:http').ServerResponse, mb: number, gated: boolean) {
    const chunk = Buffer.alloc(1024 * 1024, 'x');
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': mb * chunk.length });
    res.write(chunk);
    if (gated) await new Promise<void>((resolve) => (release = resolve));
    for (let i = 1; i < mb; i++) {
      if (!res.write(chunk)) await new Promise((resolve) => res.once('drain', resolve));
    }
    res.end();
  }
  const wss = new WebSocketServer({ server });
  wss.on('connection', (socket, req) => {
    socket.send(JSON.stringify({ url: req.url, headers: req.headers }));
    socket.on('message', (data) => socket.send(`echo:${data.toString()}`));
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const bound = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${bound}`,
    port: bound,
    seen,
    nextRequest: () => new Promise((resolve) => waiters.push(resolve)),
    webSockets: () => wss.clients,
    async close() {
      wss.clients.forEach((client) => client.terminate());
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
