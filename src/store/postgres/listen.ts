/**
 * One dedicated connection that LISTENs for what other replicas announce (a pooled
 * connection would lose its LISTEN when handed back). When it drops it comes back
 * with a growing pause; meanwhile the caller's periodic reads cover the gap, and
 * `onConnected` lets it catch up on what it missed.
 */
import pg from 'pg';
import type { Channel } from '../db.js';
import type { Subscription } from '../types.js';

const FIRST_RETRY_MS = 250;
const MAX_RETRY_MS = 5_000;

export function listen(
  url: string,
  channel: Channel,
  handlers: { onMessage: (values: string[], sentAt: number) => void; onConnected: () => void; onDisconnected: (error: unknown) => void },
): Subscription {
  let client: pg.Client | undefined;
  let closed = false;
  let retryMs = FIRST_RETRY_MS;
  let retry: NodeJS.Timeout | undefined;

  const connect = async () => {
    const next = new pg.Client({ connectionString: url });
    next.on('notification', (message) => {
      if (message.channel !== channel || !message.payload) return;
      // "<sent at, ms>:<value>,<value>…", as db.ts's notify writes it.
      const at = message.payload.indexOf(':');
      handlers.onMessage(message.payload.slice(at + 1).split(','), Number(message.payload.slice(0, at)));
    });
    next.on('error', (error) => dropped(next, error));
    next.on('end', () => dropped(next, new Error('connection ended')));
    try {
      await next.connect();
      await next.query(`LISTEN ${channel}`);
    } catch (error) {
      return dropped(next, error);
    }
    if (closed) return void next.end().catch(() => {});
    client = next;
    retryMs = FIRST_RETRY_MS;
    handlers.onConnected();
  };

  const dropped = (which: pg.Client, error: unknown) => {
    which.removeAllListeners('end');
    void which.end().catch(() => {});
    if (closed || (client !== undefined && client !== which)) return;
    if (client === which) handlers.onDisconnected(error);
    client = undefined;
    clearTimeout(retry);
    retry = setTimeout(() => void connect(), retryMs);
    retry.unref();
    retryMs = Math.min(MAX_RETRY_MS, retryMs * 2);
  };

  void connect();
  return {
    get connected() {
      return client !== undefined;
    },
    async close() {
      closed = true;
      clearTimeout(retry);
      await client?.end().catch(() => {});
    },
  };
}
