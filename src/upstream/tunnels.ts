/**
 * Open WebSocket tunnels, filed by the session that opened them, so that the end
 * of a session closes them (SPEC section 5) and a shutdown can cut them all.
 */
import type { Duplex } from 'node:stream';

export class Tunnels {
  readonly #open = new Set<Duplex>();
  readonly #bySession = new Map<string, Set<Duplex>>();

  /** Tracks a client socket from its upgrade request until it closes, even while it is being judged. */
  add(socket: Duplex): void {
    this.#open.add(socket);
    socket.once('close', () => this.#open.delete(socket));
  }

  /** Files a tunnel under the session that opened it, until it closes. */
  file(socket: Duplex, sessionId: string): void {
    let sockets = this.#bySession.get(sessionId);
    if (!sockets) this.#bySession.set(sessionId, (sockets = new Set()));
    sockets.add(socket);
    socket.once('close', () => {
      sockets.delete(socket);
      if (sockets.size === 0 && this.#bySession.get(sessionId) === sockets) this.#bySession.delete(sessionId);
    });
  }

  /** Cuts every tunnel of these sessions; returns how many there were. */
  close(sessionIds: Iterable<string>): number {
    let closed = 0;
    for (const id of sessionIds) {
      for (const socket of this.#bySession.get(id) ?? []) {
        socket.destroy();
        closed++;
      }
    }
    return closed;
  }

  closeAll(): void {
    this.#open.forEach((socket) => socket.destroy());
  }
}
