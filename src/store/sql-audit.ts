/** The audit log's table over SQL (both dialects alike). */
import type { Db, Row } from './db.js';
import type { Store, StoredAuditEvent } from './types.js';

type AuditPart = Pick<Store, 'appendAuditEvent' | 'listAuditEvents' | 'pruneAuditEvents'>;

const text = (value: unknown) => (value === null || value === undefined ? null : String(value));

const toEvent = (row: Row): StoredAuditEvent => ({
  id: Number(row['id']),
  at: Number(row['at']),
  type: String(row['type']),
  userId: text(row['user_id']),
  username: text(row['username']),
  actorKind: String(row['actor_kind']) as StoredAuditEvent['actorKind'],
  actorId: text(row['actor_id']),
  actorUsername: text(row['actor_username']),
  address: text(row['address']),
  details: JSON.parse(String(row['details'])) as Record<string, unknown>,
});

export function auditEvents(db: Db): AuditPart {
  return {
    async appendAuditEvent(e) {
      await db.run(
        `INSERT INTO audit_events (at, type, user_id, username, actor_kind, actor_id, actor_username, address, details)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        [e.at, e.type, e.userId, e.username, e.actorKind, e.actorId, e.actorUsername, e.address, JSON.stringify(e.details)],
      );
    },
    async listAuditEvents({ userId, username, type, since, before, limit }) {
      const where: string[] = [];
      const args: unknown[] = [];
      const filter = (clause: string, value: unknown) => {
        if (value === undefined) return;
        where.push(clause);
        args.push(value);
      };
      filter('user_id = ?', userId);
      filter('username = ?', username);
      filter('type = ?', type);
      filter('at >= ?', since);
      filter('id < ?', before);
      const sql = `SELECT * FROM audit_events ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ?`;
      return (await db.all(sql, [...args, limit])).map(toEvent);
    },
    async pruneAuditEvents(before) {
      return db.run('DELETE FROM audit_events WHERE at < ?', [before]);
    },
  };
}
