/**
 * The Store contract's administration part over SQL: groups, finding users, the
 * last-administrator rule, bans and second factors reset by an administrator.
 *
 * users.groups (JSON) stays what every read returns; the user_groups rows that
 * triggers keep in step with it are what the group queries use. A change to the
 * groups is one UPDATE of users.groups whose conditions read that user's row, so
 * that racing changes of one user are decided by its row lock (PostgreSQL) or the
 * single writer (SQLite). The last-administrator rule reads other users' rows:
 * PostgreSQL runs every change under it beneath one advisory lock, SQLite has one
 * writer already.
 */
import type { Db, Queries, Statement } from './db.js';
import { loginKey, type ClaimsChange, type GuardedChange, type Store, type User } from './types.js';

type People = Pick<
  Store,
  'setGroupMember' | 'listGroups' | 'findUsers' | 'setDisabledKeepingAdmin' | 'deleteUserKeepingAdmin' | 'resetFactors' | 'countRecoveryCodes' | 'liftBan' | 'claimsChangedSince'
>;

export const ADMINS = 'admins';
const LAST_ADMIN_LOCK = { key: 'last_admin' };
const ENABLED_ADMINS = `SELECT 1 FROM user_groups g JOIN users u ON u.id = g.user_id WHERE g.group_name = '${ADMINS}' AND u.disabled = 0`;
/** The change to user ? leaves an enabled administrator: they are not one, or another one exists. (Two arguments: the id twice.) */
const KEEPS_AN_ADMIN = `(NOT EXISTS (${ENABLED_ADMINS} AND g.user_id = ?) OR EXISTS (${ENABLED_ADMINS} AND g.user_id <> ?))`;

/** A separator no session id (base64url) holds: a claims change travels beside revocations as `<session id>@<ms>`. */
export const CLAIMS_MARK = '@';

/**
 * Marks the user's live sessions as holding outdated claims (their tokens minted before `now`
 * stop being trusted) and tells the other replicas; returns the marked sessions' ids.
 */
export async function markClaimsChanged(tx: Queries, userId: string, now: number): Promise<string[]> {
  const rows = await tx.all('UPDATE sessions SET claims_changed_at = ? WHERE user_id = ? AND revoked_at IS NULL RETURNING id', [now, userId]);
  const sessionIds = rows.map((row) => String(row['id']));
  await tx.notify('gatehouse_revocations', sessionIds.map((id) => `${id}${CLAIMS_MARK}${now}`));
  return sessionIds;
}

export function people(db: Db, toUser: (row: Record<string, unknown>) => User): People {
  const pg = db.dialect === 'postgres';
  /** Statements in one transaction: on PostgreSQL under the last-admin lock, each after the one before changed a row. */
  const guarded = (statements: Statement[], after?: (tx: Queries) => Promise<void>): Promise<number[]> =>
    pg
      ? db.transaction(async (tx) => {
          const counts: number[] = [];
          for (const { sql, args } of statements) {
            counts.push(await tx.run(sql, args));
            if (counts.at(-1) === 0) return counts;
          }
          await after?.(tx);
          return counts;
        }, LAST_ADMIN_LOCK)
      : db.batch(statements);

  /** Why a guarded change of the user changed nothing. */
  const whyUnchanged = async (userId: string, done: (user: User) => boolean): Promise<GuardedChange> => {
    const row = await db.get('SELECT * FROM users WHERE id = ?', [userId]);
    if (!row) return 'not_found';
    return done(toUser(row)) ? 'unchanged' : 'last_admin';
  };

  const groupUpdate = (userId: string, group: string, member: boolean): Statement => {
    const guard = !member && group === ADMINS ? ` AND ${KEEPS_AN_ADMIN}` : '';
    const guardArgs = guard ? [userId, userId] : [];
    if (pg) {
      const holds = `users.groups::jsonb @> jsonb_build_array(?::text)`;
      return member
        ? { sql: `UPDATE users SET groups = (users.groups::jsonb || jsonb_build_array(?::text))::text WHERE id = ? AND NOT ${holds}`, args: [group, userId, group] }
        : {
            sql: `UPDATE users SET groups = (SELECT COALESCE(jsonb_agg(each.value ORDER BY each.n), '[]'::jsonb)::text
                    FROM jsonb_array_elements_text(users.groups::jsonb) WITH ORDINALITY AS each(value, n) WHERE each.value <> ?)
                  WHERE id = ? AND ${holds}${guard}`,
            args: [group, userId, group, ...guardArgs],
          };
    }
    const holds = 'EXISTS (SELECT 1 FROM json_each(users.groups) WHERE value = ?)';
    return member
      ? { sql: `UPDATE users SET groups = json_insert(groups, '$[#]', ?) WHERE id = ? AND NOT ${holds}`, args: [group, userId, group] }
      : {
          sql: `UPDATE users SET groups = (SELECT json_group_array(value) FROM json_each(users.groups) WHERE value <> ?) WHERE id = ? AND ${holds}${guard}`,
          args: [group, userId, group, ...guardArgs],
        };
  };

  return {
    async setGroupMember({ userId, group, member, now }) {
      let sessionIds: string[] = [];
      const [changed] = await guarded(
        // SQLite: the sessions are marked only if the groups changed (changes() of the statement before).
        [groupUpdate(userId, group, member), ...(pg ? [] : [{ sql: 'UPDATE sessions SET claims_changed_at = ? WHERE user_id = ? AND revoked_at IS NULL AND changes() > 0', args: [now, userId] }])],
        async (tx) => {
          sessionIds = await markClaimsChanged(tx, userId, now);
        },
      );
      if (changed !== 1) return { result: await whyUnchanged(userId, (user) => user.groups.includes(group) === member), sessionIds: [] };
      if (!pg) sessionIds = (await db.all('SELECT id FROM sessions WHERE user_id = ? AND claims_changed_at = ? AND revoked_at IS NULL', [userId, now])).map((row) => String(row['id']));
      return { result: 'changed', sessionIds };
    },

    async listGroups({ limit, after }) {
      const rows = await db.all(
        `SELECT group_name, COUNT(*) AS members FROM user_groups WHERE group_name > ? GROUP BY group_name ORDER BY group_name LIMIT ?`,
        [after ?? '', limit],
      );
      return rows.map((row) => ({ name: String(row['group_name']), members: Number(row['members']) }));
    },

    async findUsers({ query, group, limit, after }) {
      const where = ['username_key > ?'];
      const args: unknown[] = [after ?? ''];
      if (query !== undefined && query !== '') {
        const pattern = `%${loginKey(query).replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
        where.push(`(username_key LIKE ? ESCAPE '\\' OR email_key LIKE ? ESCAPE '\\')`);
        args.push(pattern, pattern);
      }
      if (group !== undefined) {
        where.push('id IN (SELECT user_id FROM user_groups WHERE group_name = ?)');
        args.push(group);
      }
      const rows = await db.all(`SELECT * FROM users WHERE ${where.join(' AND ')} ORDER BY username_key LIMIT ?`, [...args, limit]);
      return rows.map(toUser);
    },

    async setDisabledKeepingAdmin(userId, disabled) {
      const guard = disabled ? ` AND ${KEEPS_AN_ADMIN}` : '';
      const [changed] = await guarded([
        { sql: `UPDATE users SET disabled = ? WHERE id = ? AND disabled <> ?${guard}`, args: [disabled ? 1 : 0, userId, disabled ? 1 : 0, ...(disabled ? [userId, userId] : [])] },
      ]);
      return changed === 1 ? 'changed' : whyUnchanged(userId, (user) => user.disabled === disabled);
    },

    async deleteUserKeepingAdmin(userId, now) {
      const live = 'SELECT id FROM sessions WHERE user_id = ? AND revoked_at IS NULL';
      const sessionIds = (await db.all(live, [userId])).map((row) => String(row['id']));
      // Every statement asks the same question, and only the last one changes its answer: all or nothing.
      const statements: Statement[] = [
        { sql: `UPDATE sessions SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL AND ${KEEPS_AN_ADMIN}`, args: [now, userId, userId, userId] },
        { sql: `DELETE FROM recovery_codes WHERE user_id = ? AND ${KEEPS_AN_ADMIN}`, args: [userId, userId, userId] },
        { sql: `DELETE FROM webauthn_credentials WHERE user_id = ? AND ${KEEPS_AN_ADMIN}`, args: [userId, userId, userId] },
        { sql: `DELETE FROM one_time_tokens WHERE user_id = ? AND ${KEEPS_AN_ADMIN}`, args: [userId, userId, userId] },
        { sql: `DELETE FROM users WHERE id = ? AND ${KEEPS_AN_ADMIN}`, args: [userId, userId, userId] },
      ];
      // PostgreSQL stops at the first statement that changes nothing: here only the last one must change a row.
      const counts = pg
        ? await db.transaction(async (tx) => {
            const out: number[] = [];
            for (const { sql, args } of statements) out.push(await tx.run(sql, args));
            if (out.at(-1) === 1) await tx.notify('gatehouse_revocations', sessionIds);
            return out;
          }, LAST_ADMIN_LOCK)
        : await db.batch(statements);
      if (counts.at(-1) === 1) return { result: 'changed', sessionIds };
      return { result: await whyUnchanged(userId, () => false), sessionIds: [] };
    },

    async resetFactors(userId) {
      await db.batch([
        { sql: 'UPDATE users SET totp_secret = NULL, totp_enabled = 0, totp_last_step = NULL WHERE id = ?', args: [userId] },
        { sql: 'DELETE FROM recovery_codes WHERE user_id = ?', args: [userId] },
        { sql: 'DELETE FROM webauthn_credentials WHERE user_id = ?', args: [userId] },
      ]);
    },

    async countRecoveryCodes(userId) {
      const row = await db.get('SELECT COUNT(*) AS n FROM recovery_codes WHERE user_id = ? AND used_at IS NULL', [userId]);
      return Number(row?.['n'] ?? 0);
    },

    async liftBan(kind, key) {
      await db.batch([
        { sql: 'DELETE FROM bans WHERE key = ?', args: [key] },
        { sql: 'DELETE FROM throttle_events WHERE kind = ? AND key = ?', args: [kind, key] },
      ]);
    },

    async claimsChangedSince(since) {
      const rows = await db.all('SELECT id, claims_changed_at FROM sessions WHERE claims_changed_at >= ?', [since]);
      return rows.map((row): ClaimsChange => ({ sessionId: String(row['id']), at: Number(row['claims_changed_at']) }));
    },
  };
}
