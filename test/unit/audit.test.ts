/** The audit log writes its line at once and its row behind it, and never loses an event silently. */
import { describe, expect, it } from 'vitest';
import { AuditLog, CLI_ACTOR, SYSTEM_ACTOR } from '../../src/audit.js';
import { fixedClock } from '../../src/clock.js';
import { createLogger } from '../../src/log.js';
import { createMetrics } from '../../src/metrics.js';
import type { StoredAuditEvent } from '../../src/store/types.js';

type Row = Omit<StoredAuditEvent, 'id'>;

function setUp(append: (row: Row) => Promise<void>) {
  const lines: Record<string, unknown>[] = [];
  const metrics = createMetrics();
  const audit = new AuditLog(createLogger('info', (line) => void lines.push(JSON.parse(line))), { appendAuditEvent: append }, fixedClock(1_000), metrics);
  const failures = async () => (await metrics.auditWriteFailures.get()).values[0]?.value ?? 0;
  return { audit, lines, failures };
}

describe('AuditLog', () => {
  it('logs the event before the row is written, and stores every field of it', async () => {
    const rows: Row[] = [];
    let release!: () => void;
    const { audit, lines } = setUp(async (row) => {
      await new Promise<void>((resolve) => (release = resolve));
      rows.push(row);
    });
    const user = { id: 'u1', username: 'ann' };
    const written = audit.record({ type: 'user_disabled', user, actor: { kind: 'admin', id: 'a1', username: 'root' }, address: '192.0.2.7', details: { why: 'test' } });
    expect(lines).toEqual([expect.objectContaining({ event: 'user_disabled', user_id: 'u1', username: 'ann', actor: 'root', address: '192.0.2.7', why: 'test', audit: true })]);
    expect(rows).toEqual([]);
    release();
    await written;
    expect(rows).toEqual([
      { at: 1_000, type: 'user_disabled', userId: 'u1', username: 'ann', actorKind: 'admin', actorId: 'a1', actorUsername: 'root', address: '192.0.2.7', details: { why: 'test' } },
    ]);
  });

  it('stores an event without user, address or details, by the command line', async () => {
    const rows: Row[] = [];
    const { audit } = setUp(async (row) => void rows.push(row));
    await audit.record({ type: 'signing_key_added', actor: CLI_ACTOR });
    expect(rows[0]).toMatchObject({ userId: null, username: null, actorKind: 'cli', actorId: null, actorUsername: null, address: null, details: {} });
  });

  it('fails an awaiting caller, counts and logs the failure, and never crashes one that does not await', async () => {
    const { audit, lines, failures } = setUp(() => Promise.reject(new Error('database away')));
    await expect(audit.record({ type: 'user_enabled', actor: CLI_ACTOR })).rejects.toThrow('database away');
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      void audit.record({ type: 'login_failed', actor: SYSTEM_ACTOR, details: { reason: 'unknown_user' } });
      await audit.flush();
      await new Promise((resolve) => setTimeout(resolve, 20));
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
    expect(unhandled).toEqual([]);
    expect(await failures()).toBe(2);
    expect(lines.filter((line) => line['event'] === 'audit_write_failed').map((line) => line['type'])).toEqual(['user_enabled', 'login_failed']);
    // The event itself is still in the log.
    expect(lines.filter((line) => line['event'] === 'login_failed')).toHaveLength(1);
  });

  it('waits for the writes in flight when flushed', async () => {
    const rows: Row[] = [];
    const { audit } = setUp(async (row) => {
      await new Promise((resolve) => setTimeout(resolve, 20));
      rows.push(row);
    });
    for (let i = 0; i < 5; i++) void audit.record({ type: 'login_failed', actor: SYSTEM_ACTOR });
    await audit.flush();
    expect(rows).toHaveLength(5);
  });

  it('writes no more than a bounded number at once; the rest are logged and counted, not queued', async () => {
    const { audit, failures } = setUp(() => new Promise(() => {}));
    for (let i = 0; i < 1_005; i++) void audit.record({ type: 'login_failed', actor: SYSTEM_ACTOR });
    expect(await failures()).toBe(5);
  });
});
