/** The Store contract over SQL (libSQL: embedded SQLite or a libSQL server). */
import { isUniqueViolation, type Db, type Row } from './db.js';
import { accountExtras, mailAndThrottle } from './sql-extras.js';
import { auditEvents } from './sql-audit.js';
import { oidcIdentities } from './sql-oidc.js';
import { CLAIMS_MARK, people } from './sql-people.js';
import {
  loginKey,
  NotFirstUser,
  StoreConflict,
  TokenUnusable,
  type ListedSession,
  type NewUser,
  type RevocationHandlers,
  type Session,
  type SigningKey,
  type Store,
  type User,
} from './types.js';

const orNull = (value: unknown) => (value === null || value === undefined ? null : value);

const toUser = (row: Row): User => ({
  id: String(row['id']),
  username: String(row['username']),
  email: row['email'] === null ? null : String(row['email']),
  groups: JSON.parse(String(row['groups'])) as string[],
  passwordHash: String(row['password_hash']),
  disabled: Number(row['disabled']) === 1,
  createdAt: Number(row['created_at']),
  displayName: orNull(row['display_name']) as string | null,
  emailVerified: Number(row['email_verified']) === 1,
  totpSecret: orNull(row['totp_secret']) as string | null,
  totpEnabled: Number(row['totp_enabled']) === 1,
});


const toSession = (row: Row): Session => ({
  id: String(row['id']),
  userId: String(row['user_id']),
  createdAt: Number(row['created_at']),
  lastUsedAt: Number(row['last_used_at']),
  refreshHash: String(row['refresh_hash']),
  prevRefreshHash: orNull(row['prev_refresh_hash']) as string | null,
  rotatedAt: row['rotated_at'] === null ? null : Number(row['rotated_at']),
  sealedRefresh: orNull(row['sealed_refresh']) as string | null,
  revokedAt: row['revoked_at'] === null ? null : Number(row['revoked_at']),
  device: orNull(row['device']) as string | null,
  address: orNull(row['address']) as string | null,
});

const toListedSession = (row: Row): ListedSession => ({ ...toSession(row), username: String(row['username']) });

const toKey = (row: Row): SigningKey => ({
  kid: String(row['kid']),
  alg: String(row['alg']),
  privateJwk: String(row['private_jwk']),
  publicJwk: String(row['public_jwk']),
  createdAt: Number(row['created_at']),
});

/** One announcement on the revocations channel: revoked session ids, and claims changes as `<id>@<ms>`. */
function heard(values: string[], sentAt: number, onRevoked: RevocationHandlers['onRevoked'], onClaimsChanged: RevocationHandlers['onClaimsChanged']): void {
  const revoked = values.filter((value) => !value.includes(CLAIMS_MARK));
  if (revoked.length > 0 || values.length === 0) onRevoked(revoked, sentAt);
  const marks = values.filter((value) => value.includes(CLAIMS_MARK)).map((value) => {
    const [sessionId = '', at] = value.split(CLAIMS_MARK);
    return { sessionId, at: Number(at) };
  });
  if (marks.length > 0) onClaimsChanged?.(marks, sentAt);
}

/** The store `database_url` names: PostgreSQL for postgres(ql)://, else libSQL. Only the driver in use is loaded. */
export async function openSqlStore(url: string, { poolSize = 10 } = {}): Promise<Store> {
  return sqlStore(await openDatabase(url, poolSize));
}

/** The driver for `url`: PostgreSQL for postgres(ql)://, else libSQL. */
export async function openDatabase(url: string, poolSize = 10): Promise<Db> {
  if (/^postgres(ql)?:\/\//.test(url)) return (await import('./postgres/db.js')).openPostgresDb(url, poolSize);
  return (await import('./sqlite/db.js')).openSqliteDb(url);
}

/** The INSERT … SELECT of a new user, without its WHERE: the first account is an administrator. */
function insertUser(id: string, { username, email = null, passwordHash, admin = false, groups = [], emailVerified = false, now }: NewUser) {
  const plain = [...new Set(groups)];
  const withAdmins = [...new Set(['admins', ...groups])];
  return {
    sql: `INSERT INTO users (id, username, username_key, email, email_key, password_hash, groups, email_verified, created_at)
          SELECT ?, ?, ?, ?, ?, ?, CASE WHEN ? = 1 OR NOT EXISTS (SELECT 1 FROM users) THEN ? ELSE ? END, ?, ?`,
    args: [id, username, loginKey(username), email, email && loginKey(email), passwordHash, admin ? 1 : 0, JSON.stringify(withAdmins), JSON.stringify(plain), emailVerified ? 1 : 0, now],
  };
}

/**
 * One write transaction: the invite is marked used by the new account's id, and the account is
 * inserted only if the invite carries that id. A racing registration finds the invite used and
 * inserts nothing; a refused insert (a taken name) rolls the use back.
 */
async function createInvitedUser(db: Db, id: string, user: NewUser): Promise<User> {
  const { sql, args } = insertUser(id, user);
  const [, created] = await db.batch([
    {
      sql: `UPDATE one_time_tokens SET used_at = ?, user_id = ? WHERE hash = ? AND purpose = 'invite' AND used_at IS NULL AND expires_at > ?`,
      args: [user.now, id, user.inviteHash, user.now],
    },
    { sql: `${sql} WHERE EXISTS (SELECT 1 FROM one_time_tokens WHERE hash = ? AND user_id = ?)`, args: [...args, user.inviteHash, id] },
  ]);
  const row = created === 1 ? await db.get('SELECT * FROM users WHERE id = ?', [id]) : undefined;
  if (!row) throw new TokenUnusable();
  return toUser(row);
}

export function sqlStore(db: Db): Store {
  const findUser = async (id: string) => {
    const row = await db.get('SELECT * FROM users WHERE id = ?', [id]);
    return row && toUser(row);
  };
  return {
    ...accountExtras(db),
    ...mailAndThrottle(db),
    ...people(db, toUser),
    ...auditEvents(db),
    ...oidcIdentities(db, findUser),
    migrate: () => db.migrate(),
    pendingMigrations: () => db.pendingMigrations(),
    ping: async () => void (await db.get('SELECT 1')),
    stats: () => db.stats(),
    close: async () => db.close(),

    async createUser(user: NewUser) {
      const id = crypto.randomUUID();
      try {
        if (user.inviteHash !== undefined) return await createInvitedUser(db, id, user);
        // One statement, so "first account is an administrator" (and "only the first") holds even when two register at once.
        // PostgreSQL reads NOT EXISTS before it inserts, so concurrent inserts are serialised there by a lock.
        const { sql, args } = insertUser(id, user);
        const row = await db.transaction((tx) => tx.get(`${sql} WHERE ? = 0 OR NOT EXISTS (SELECT 1 FROM users) RETURNING *`, [...args, user.onlyIfFirst ? 1 : 0]), 'firstUser');
        if (!row) throw new NotFirstUser();
        return toUser(row);
      } catch (error) {
        const column = isUniqueViolation(error);
        if (column === 'users.username_key') throw new StoreConflict('username');
        if (column === 'users.email_key') throw new StoreConflict('email');
        throw error;
      }
    },
    async hasUsers() {
      return (await db.get('SELECT 1 FROM users LIMIT 1')) !== undefined;
    },
    async findUserById(id) {
      const row = await db.get('SELECT * FROM users WHERE id = ?', [id]);
      return row && toUser(row);
    },
    async findUserByLogin(login) {
      const key = loginKey(login);
      const row = await db.get('SELECT * FROM users WHERE username_key = ? OR email_key = ? ORDER BY username_key = ? DESC LIMIT 1', [key, key, key]);
      return row && toUser(row);
    },
    async listUsers() {
      return (await db.all('SELECT * FROM users ORDER BY created_at, username_key')).map(toUser);
    },
    async setPasswordHash(userId, passwordHash) {
      await db.run('UPDATE users SET password_hash = ? WHERE id = ?', [passwordHash, userId]);
    },
    async setDisabled(userId, disabled) {
      await db.run('UPDATE users SET disabled = ? WHERE id = ?', [disabled ? 1 : 0, userId]);
    },

    async createSession({ id, userId, refreshHash, now, device = null, address = null }) {
      await db.run('INSERT INTO sessions (id, user_id, created_at, last_used_at, refresh_hash, device, address) VALUES (?, ?, ?, ?, ?, ?, ?)', [
        id,
        userId,
        now,
        now,
        refreshHash,
        device,
        address,
      ]);
    },
    async findSession(id) {
      const row = await db.get('SELECT * FROM sessions WHERE id = ?', [id]);
      return row && toSession(row);
    },
    async rotateRefresh({ sessionId, expectedHash, newHash, sealedRefresh, now }) {
      const changed = await db.run(
        `UPDATE sessions SET prev_refresh_hash = refresh_hash, refresh_hash = ?, sealed_refresh = ?, rotated_at = ?, last_used_at = ?
         WHERE id = ? AND refresh_hash = ? AND revoked_at IS NULL`,
        [newHash, sealedRefresh, now, now, sessionId, expectedHash],
      );
      return changed === 1;
    },
    // Every replica hears of a revocation in the transaction that makes it (PostgreSQL), or reads it (SQLite).
    async rotateLiveRefresh({ sessionId, expectedHash, newHash, sealedRefresh, now, usedSince, createdSince }) {
      const update = `UPDATE sessions SET prev_refresh_hash = refresh_hash, refresh_hash = ?, sealed_refresh = ?, rotated_at = ?, last_used_at = ?
        FROM users
        WHERE sessions.id = ? AND sessions.refresh_hash = ? AND sessions.revoked_at IS NULL
          AND sessions.last_used_at >= ? AND sessions.created_at >= ? AND users.id = sessions.user_id AND users.disabled = 0`;
      const args = [newHash, sealedRefresh, now, now, sessionId, expectedHash, usedSince, createdSince];
      // PostgreSQL returns the user from the same statement; SQLite's RETURNING sees only the updated table.
      if (db.dialect === 'postgres') {
        const row = await db.get(`${update} RETURNING users.*`, args);
        return row && toUser(row);
      }
      const row = await db.get(`${update} RETURNING user_id`, args);
      const user = row && (await db.get('SELECT * FROM users WHERE id = ?', [row['user_id']]));
      return user && toUser(user);
    },
    async revokeSession(id, now) {
      return db.transaction(async (tx) => {
        const revoked = (await tx.run('UPDATE sessions SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL', [now, id])) === 1;
        if (revoked) await tx.notify('gatehouse_revocations', [id]);
        return revoked;
      });
    },
    async revokeUserSessions(userId, now) {
      return db.transaction(async (tx) => {
        const rows = await tx.all('UPDATE sessions SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL RETURNING id', [now, userId]);
        const ids = rows.map((row) => String(row['id']));
        await tx.notify('gatehouse_revocations', ids);
        return ids;
      });
    },
    async listUserSessions(userId) {
      return (await db.all('SELECT * FROM sessions WHERE user_id = ? AND revoked_at IS NULL ORDER BY last_used_at DESC', [userId])).map(toSession);
    },
    async listSessions({ userId, usedSince, createdSince, limit, after }) {
      const where = ['sessions.revoked_at IS NULL', 'sessions.last_used_at >= ?', 'sessions.created_at >= ?'];
      const args: unknown[] = [usedSince, createdSince];
      if (userId !== undefined) {
        where.push('sessions.user_id = ?');
        args.push(userId);
      }
      if (after) {
        // Newest first: what comes after a session is older, or as old with a smaller id.
        where.push('(sessions.created_at < ? OR (sessions.created_at = ? AND sessions.id < ?))');
        args.push(after.createdAt, after.createdAt, after.id);
      }
      const rows = await db.all(
        `SELECT sessions.*, users.username FROM sessions JOIN users ON users.id = sessions.user_id
         WHERE ${where.join(' AND ')} ORDER BY sessions.created_at DESC, sessions.id DESC LIMIT ?`,
        [...args, limit],
      );
      return rows.map(toListedSession);
    },
    ...(db.listen && {
      watchRevocations: ({ onRevoked, onClaimsChanged, onConnected, onDisconnected }) =>
        db.listen!('gatehouse_revocations', { onMessage: (values, sentAt) => heard(values, sentAt, onRevoked, onClaimsChanged), onConnected, onDisconnected }),
    }),
    async revokedSessionsSince(since) {
      return (await db.all('SELECT id FROM sessions WHERE revoked_at >= ?', [since])).map((row) => String(row['id']));
    },

    async takeLease(name, holder, now, until) {
      const row = await db.get(
        `INSERT INTO leases (name, holder, expires_at) VALUES (?, ?, ?)
         ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
         WHERE leases.holder = excluded.holder OR leases.expires_at <= ?
         RETURNING holder`,
        [name, holder, until, now],
      );
      return row !== undefined;
    },
    async listSigningKeys() {
      // Insertion order, not created_at: a host with a slow clock must still be able to rotate.
      const order = db.dialect === 'postgres' ? 'seq' : 'rowid';
      return (await db.all(`SELECT * FROM signing_keys ORDER BY ${order}`)).map(toKey);
    },
    async addSigningKey(key, { onlyIfNone = false } = {}) {
      await db.transaction(
        (tx) =>
          tx.run(
            `INSERT INTO signing_keys (kid, alg, private_jwk, public_jwk, created_at)
             SELECT ?, ?, ?, ?, ? WHERE ? = 0 OR NOT EXISTS (SELECT 1 FROM signing_keys)`,
            [key.kid, key.alg, key.privateJwk, key.publicJwk, key.createdAt, onlyIfNone ? 1 : 0],
          ),
        'firstKey',
      );
    },
  };
}
