/**
 * A TCP connection that sends bytes exactly as written (no client library adds,
 * drops or reorders a header) and fails after a timeout instead of hanging.
 */
import { connect, type Socket } from 'node:net';

export interface RawConnection {
  write(text: string): void;
  /** Everything received so far, once it matches; rejects when the peer closes first or after `timeoutMs`. */
  readUntil(pattern: RegExp, timeoutMs?: number): Promise<string>;
  close(): void;
}

export async function rawConnection(url: string): Promise<RawConnection> {
  const { hostname, port } = new URL(url);
  const socket: Socket = connect(Number(port), hostname);
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  let received = '';
  socket.setEncoding('latin1');
  socket.on('data', (chunk: string) => (received += chunk));
  socket.on('error', () => {});
  return {
    write: (text) => void socket.write(text, 'latin1'),
    readUntil(pattern, timeoutMs = 3_000) {
      return new Promise((resolve, reject) => {
        const finish = (error?: Error) => {
          clearTimeout(timer);
          socket.off('data', onData).off('close', onClose);
          if (error) reject(error);
          else resolve(received);
        };
        const failure = (why: string) => new Error(`${why}: nothing matched ${pattern}; received ${JSON.stringify(received)}`);
        const onData = () => pattern.test(received) && finish();
        const onClose = () => finish(pattern.test(received) ? undefined : failure('closed'));
        const timer = setTimeout(() => finish(failure(`${timeoutMs} ms passed`)), timeoutMs);
        if (pattern.test(received)) return finish();
        socket.on('data', onData).once('close', onClose);
      });
    },
    close: () => void socket.destroy(),
  };
}

/** A request head in HTTP/1.1, every header as given. */
export const requestHead = (method: string, path: string, headers: Record<string, string>) =>
  `${method} ${path} HTTP/1.1\r\n${Object.entries(headers)
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('')}\r\n`;
