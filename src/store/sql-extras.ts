/** The Store contract's second half over SQL: second factors, one-time tokens, mail, throttling. */
import { isUniqueViolation, type Db, type Row } from './db.js';
import { loginKey, StoreConflict, type Credential, type OneTimeToken, type Store } from './types.js';

type AccountExtras = Pick<
  Store,
  | 'setDisplayName'
  | 'setEmail'
  | 'deleteUser'
  | 'setTotp'
  | 'useTotpStep'
  | 'replaceRecoveryCodes'
  | 'useRecoveryCode'
  | 'createOneTimeToken'
  | 'consumeOneTimeToken'
  | 'findOneTimeToken'
  | 'replaceOneTimeTokens'
  | 'consumeOneTimeTokenRetiringOthers'
  | 'confirmEmailWipingCredentials'
  | 'addCredential'
  | 'listCredentials'
  | 'findCredential'
  | 'useCredential'
  | 'renameCredential'
  | 'deleteCredential'
>;

const toCredential = (row: Row): Credential => ({
  id: String(row['id']),
  userId: String(row['user_id']),
  publicKey: String(row['public_key']),
  counter: Number(row['counter']),
  transports: JSON.parse(String(row['transports'])) as string[],
  name: String(row['name']),
  createdAt: Number(row['created_at']),
  lastUsedAt: row['last_used_at'] === null ? null : Number(row['last_used_at']),
});

const toToken = (row: Row, purpose: OneTimeToken['purpose']): OneTimeToken => ({
  hash: String(row['hash']),
  purpose,
  userId: row['user_id'] === null ? null : String(row['user_id']),
  data: row['data'] === null ? null : String(row['data']),
  expiresAt: Number(row['expires_at']),
});

export function accountExtras(db: Db): AccountExtras {
  return {
    async setDisplayName(userId, displayName) {
      await db.run('UPDATE users SET display_name = ? WHERE id = ?', [displayName, userId]);
    },
    async setEmail(userId, email, verified) {
      try {
        await db.run('UPDATE users SET email = ?, email_key = ?, email_verified = ? WHERE id = ?', [
          email,
          email && loginKey(email),
          verified ? 1 : 0,
          userId,
        ]);
      } catch (error) {
        if (isUniqueViolation(error) === 'users.email_key') throw new StoreConflict('email');
        throw error;
      }
    },
    async deleteUser(userId) {
      await db.batch([
        { sql: 'DELETE FROM recovery_codes WHERE user_id = ?', args: [userId] },
        { sql: 'DELETE FROM webauthn_credentials WHERE user_id = ?', args: [userId] },
        { sql: 'DELETE FROM one_time_tokens WHERE user_id = ?', args: [userId] },
        { sql: 'DELETE FROM oidc_identities WHERE user_id = ?', args: [userId] },
        // Sessions stay, revoked, so other instances learn of the revocation; the user row goes.
        { sql: 'UPDATE sessions SET revoked_at = COALESCE(revoked_at, ?) WHERE user_id = ?', args: [Date.now(), userId] },
        { sql: 'DELETE FROM users WHERE id = ?', args: [userId] },
      ]);
    },
    async setTotp(userId, secret, enabled) {
      await db.run('UPDATE users SET totp_secret = ?, totp_enabled = ?, totp_last_step = NULL WHERE id = ?', [secret, enabled ? 1 : 0, userId]);
    },
    async useTotpStep(userId, step) {
      const changed = await db.run('UPDATE users SET totp_last_step = ? WHERE id = ? AND (totp_last_step IS NULL OR totp_last_step < ?)', [
        step,
        userId,
        step,
      ]);
      return changed === 1;
    },
    async replaceRecoveryCodes(userId, codeHashes) {
      await db.batch([
        { sql: 'DELETE FROM recovery_codes WHERE user_id = ?', args: [userId] },
        ...codeHashes.map((hash) => ({ sql: 'INSERT INTO recovery_codes (user_id, code_hash) VALUES (?, ?)', args: [userId, hash] })),
      ]);
    },
    async useRecoveryCode(userId, codeHash, now) {
      const changed = await db.run('UPDATE recovery_codes SET used_at = ? WHERE user_id = ? AND code_hash = ? AND used_at IS NULL', [
        now,
        userId,
        codeHash,
      ]);
      return changed === 1;
    },

    async createOneTimeToken({ hash, purpose, userId, data, expiresAt }) {
      await db.run('INSERT INTO one_time_tokens (hash, purpose, user_id, data, expires_at) VALUES (?, ?, ?, ?, ?)', [
        hash,
        purpose,
        userId,
        data,
        expiresAt,
      ]);
    },
    async findOneTimeToken(hash, purpose, now) {
      const row = await db.get('SELECT * FROM one_time_tokens WHERE hash = ? AND purpose = ? AND used_at IS NULL AND expires_at > ?', [hash, purpose, now]);
      return row && toToken(row, purpose);
    },
    async consumeOneTimeToken(hash, purpose, now) {
      const row = await db.get(
        `UPDATE one_time_tokens SET used_at = ? WHERE hash = ? AND purpose = ? AND used_at IS NULL AND expires_at > ?
         RETURNING hash, purpose, user_id, data, expires_at`,
        [now, hash, purpose, now],
      );
      return row && toToken(row, purpose);
    },

    async replaceOneTimeTokens({ hash, purpose, userId, data, expiresAt }) {
      await db.batch([
        { sql: 'DELETE FROM one_time_tokens WHERE user_id = ? AND purpose = ? AND used_at IS NULL', args: [userId, purpose] },
        { sql: 'INSERT INTO one_time_tokens (hash, purpose, user_id, data, expires_at) VALUES (?, ?, ?, ?, ?)', args: [hash, purpose, userId, data, expiresAt] },
      ]);
    },
    async consumeOneTimeTokenRetiringOthers(hash, purpose, now) {
      const [consumed] = await db.batch([
        { sql: 'UPDATE one_time_tokens SET used_at = ? WHERE hash = ? AND purpose = ? AND used_at IS NULL AND expires_at > ?', args: [now, hash, purpose, now] },
        {
          sql: `DELETE FROM one_time_tokens WHERE purpose = ? AND used_at IS NULL
                AND user_id = (SELECT user_id FROM one_time_tokens WHERE hash = ? AND used_at = ?)`,
          args: [purpose, hash, now],
        },
      ]);
      if (consumed !== 1) return undefined;
      const row = await db.get('SELECT hash, purpose, user_id, data, expires_at FROM one_time_tokens WHERE hash = ?', [hash]);
      return row && toToken(row, purpose);
    },
    async confirmEmailWipingCredentials(userId, email, passwordHash) {
      // Every statement asks the same question, and the last one changes its answer: all or nothing.
      const unconfirmed = 'EXISTS (SELECT 1 FROM users WHERE id = ? AND email_key = ? AND email_verified = 0)';
      const guard = [userId, loginKey(email)];
      const counts = await db.batch([
        { sql: `DELETE FROM recovery_codes WHERE user_id = ? AND ${unconfirmed}`, args: [userId, ...guard] },
        { sql: `DELETE FROM webauthn_credentials WHERE user_id = ? AND ${unconfirmed}`, args: [userId, ...guard] },
        // A provider linked by whoever registered the address is a way in like a password.
        { sql: `DELETE FROM oidc_identities WHERE user_id = ? AND ${unconfirmed}`, args: [userId, ...guard] },
        { sql: `DELETE FROM one_time_tokens WHERE user_id = ? AND used_at IS NULL AND ${unconfirmed}`, args: [userId, ...guard] },
        {
          sql: `UPDATE users SET email_verified = 1, password_hash = ?, totp_secret = NULL, totp_enabled = 0, totp_last_step = NULL
                WHERE id = ? AND email_key = ? AND email_verified = 0`,
          args: [passwordHash, ...guard],
        },
      ]);
      return counts.at(-1) === 1;
    },

    async addCredential(c) {
      try {
        await db.run(
          'INSERT INTO webauthn_credentials (id, user_id, public_key, counter, transports, name, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
          [c.id, c.userId, c.publicKey, c.counter, JSON.stringify(c.transports), c.name, c.createdAt],
        );
      } catch (error) {
        if (isUniqueViolation(error) === 'webauthn_credentials.id') throw new StoreConflict('credential');
        throw error;
      }
    },
    async listCredentials(userId) {
      return (await db.all('SELECT * FROM webauthn_credentials WHERE user_id = ? ORDER BY created_at', [userId])).map(toCredential);
    },
    async findCredential(id) {
      const row = await db.get('SELECT * FROM webauthn_credentials WHERE id = ?', [id]);
      return row && toCredential(row);
    },
    async useCredential(id, counter, now) {
      // Authenticators that keep no counter always report 0; any other value must grow.
      const changed = await db.run(
        'UPDATE webauthn_credentials SET counter = ?, last_used_at = ? WHERE id = ? AND ((counter = 0 AND ? = 0) OR counter < ?)',
        [counter, now, id, counter, counter],
      );
      return changed === 1;
    },
    async renameCredential(userId, id, name) {
      return (await db.run('UPDATE webauthn_credentials SET name = ? WHERE id = ? AND user_id = ?', [name, id, userId])) === 1;
    },
    async deleteCredential(userId, id) {
      return (await db.run('DELETE FROM webauthn_credentials WHERE id = ? AND user_id = ?', [id, userId])) === 1;
    },
  };
}

type MailAndThrottle = Pick<
  Store,
  | 'enqueueMail'
  | 'claimMail'
  | 'markMailSent'
  | 'retryMail'
  | 'failMail'
  | 'mailQueueDepth'
  | 'countEvents'
  | 'takeEvent'
  | 'dropEvent'
  | 'ban'
  | 'bannedUntil'
  | 'clearEvents'
  | 'prune'
>;

export function mailAndThrottle(db: Db): MailAndThrottle {
  // SQLite's implicit rowid; PostgreSQL's identity column.
  const eventId = db.dialect === 'postgres' ? 'id' : 'rowid';
  const countEvents = async (kind: string, key: string, since: number) => {
    const row = await db.get('SELECT COUNT(*) AS n FROM throttle_events WHERE kind = ? AND key = ? AND at >= ?', [kind, key, since]);
    return Number(row?.['n'] ?? 0);
  };
  return {
    async enqueueMail({ recipient, subject, text, html, now }) {
      await db.run('INSERT INTO mail_queue (recipient, subject, text_body, html_body, due_at, created_at) VALUES (?, ?, ?, ?, ?, ?)', [
        recipient,
        subject,
        text,
        html,
        now,
        now,
      ]);
    },
    async claimMail(now, staleBefore) {
      // One statement: two workers (replicas) can never claim the same message. While a message is
      // being sent, due_at holds the time it was claimed: a claim older than staleBefore belongs to a
      // replica that died. On PostgreSQL a message another replica is claiming is skipped, not waited for.
      const skipLocked = db.dialect === 'postgres' ? 'FOR UPDATE SKIP LOCKED' : '';
      const claimable = `((state = 'queued' AND due_at <= ?) OR (state = 'sending' AND due_at < ?))`;
      const row = await db.get(
        `UPDATE mail_queue SET state = 'sending', attempts = attempts + 1, due_at = ?
         WHERE id = (SELECT id FROM mail_queue WHERE ${claimable} ORDER BY due_at, id LIMIT 1 ${skipLocked}) AND ${claimable}
         RETURNING id, recipient, subject, text_body, html_body, attempts`,
        [now, now, staleBefore, now, staleBefore],
      );
      if (!row) return undefined;
      return {
        id: Number(row['id']),
        recipient: String(row['recipient']),
        subject: String(row['subject']),
        text: String(row['text_body']),
        html: String(row['html_body']),
        attempts: Number(row['attempts']),
      };
    },
    async markMailSent(id, now) {
      await db.run(`UPDATE mail_queue SET state = 'sent', sent_at = ?, last_error = NULL WHERE id = ?`, [now, id]);
    },
    async retryMail(id, error, dueAt) {
      await db.run(`UPDATE mail_queue SET state = 'queued', due_at = ?, last_error = ? WHERE id = ?`, [dueAt, error.slice(0, 500), id]);
    },
    async failMail(id, error) {
      await db.run(`UPDATE mail_queue SET state = 'failed', last_error = ? WHERE id = ?`, [error.slice(0, 500), id]);
    },
    async mailQueueDepth() {
      const row = await db.get(`SELECT COUNT(*) AS n FROM mail_queue WHERE state IN ('queued', 'sending')`);
      return Number(row?.['n'] ?? 0);
    },

    countEvents,
    async takeEvent(kind, key, { now, since, max }) {
      // One statement under a lock on the key: SQLite takes its write lock before it reads; PostgreSQL
      // would let concurrent inserts each count the others out, so there an advisory lock on the key.
      const row = await db.transaction(
        (tx) =>
          tx.get(
            `INSERT INTO throttle_events (kind, key, at)
             SELECT ?, ?, ? WHERE NOT EXISTS (SELECT 1 FROM bans WHERE key = ? AND until > ?)
               AND (SELECT COUNT(*) FROM throttle_events WHERE kind = ? AND key = ? AND at >= ?) < ?
             RETURNING ${eventId} AS id`,
            [kind, key, now, key, now, kind, key, since, max],
          ),
        { key: `${kind}:${key}` },
      );
      return row && Number(row['id']);
    },
    async dropEvent(kind, key, id) {
      // Kind and key too: SQLite may hand a cleared event's rowid to a new event.
      await db.run(`DELETE FROM throttle_events WHERE ${eventId} = ? AND kind = ? AND key = ?`, [id, kind, key]);
    },
    async ban(key, until) {
      await db.run('INSERT INTO bans (key, until) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET until = CASE WHEN excluded.until > bans.until THEN excluded.until ELSE bans.until END', [key, until]);
    },
    async bannedUntil(key, now) {
      const row = await db.get('SELECT until FROM bans WHERE key = ? AND until > ?', [key, now]);
      return row ? Number(row['until']) : undefined;
    },
    async clearEvents(kind, key) {
      await db.run('DELETE FROM throttle_events WHERE kind = ? AND key = ?', [kind, key]);
    },
    async prune({ eventsBefore, sessionsBefore, now }) {
      await db.batch([
        { sql: 'DELETE FROM throttle_events WHERE at < ?', args: [eventsBefore] },
        { sql: 'DELETE FROM bans WHERE until <= ?', args: [now] },
        { sql: 'DELETE FROM one_time_tokens WHERE expires_at <= ?', args: [now] },
        { sql: 'DELETE FROM oidc_sessions WHERE session_id IN (SELECT id FROM sessions WHERE created_at < ?)', args: [sessionsBefore] },
        { sql: 'DELETE FROM sessions WHERE created_at < ?', args: [sessionsBefore] },
        { sql: `DELETE FROM mail_queue WHERE state IN ('sent', 'failed', 'interrupted') AND created_at < ?`, args: [eventsBefore] },
      ]);
    },
  };
}
