/** The Store contract's identities at other providers (SPEC section 12), over SQL. */
import { NO_PASSWORD } from '../auth/passwords.js';
import type { Db, Row } from './db.js';
import { markClaimsChanged } from './sql-people.js';
import { StoreConflict, type OidcIdentity, type Store, type User } from './types.js';

type OidcStore = Pick<
  Store,
  'findOidcIdentity' | 'listOidcIdentities' | 'linkOidcIdentity' | 'unlinkOidcIdentity' | 'signInWithOidcIdentity' | 'recordOidcSession' | 'findOidcSessions'
>;

const toIdentity = (row: Row): OidcIdentity => ({
  issuer: String(row['issuer']),
  subject: String(row['subject']),
  providerId: String(row['provider_id']),
  userId: String(row['user_id']),
  email: row['email'] === null ? null : String(row['email']),
  groups: JSON.parse(String(row['groups'])) as string[],
  createdAt: Number(row['created_at']),
  lastUsedAt: row['last_used_at'] === null ? null : Number(row['last_used_at']),
});

/** The pair (issuer, subject) is linked already; isUniqueViolation reads single-column keys only. */
const isTaken = (error: unknown) =>
  (error as { code?: unknown })?.code === '23505' || /UNIQUE constraint failed: oidc_identities\./.test(error instanceof Error ? error.message : '');

const sameGroups = (a: string[], b: string[]) => a.length === b.length && a.every((group) => b.includes(group));

/** A concurrent change of the same account's groups is retried this many times; then the sign-in fails rather than skip the groups. */
const GROUP_RETRIES = 3;

export function oidcIdentities(db: Db, findUser: (id: string) => Promise<User | undefined>): OidcStore {
  return {
    async findOidcIdentity(issuer, subject) {
      const row = await db.get('SELECT * FROM oidc_identities WHERE issuer = ? AND subject = ?', [issuer, subject]);
      return row && toIdentity(row);
    },
    async listOidcIdentities(userId) {
      return (await db.all('SELECT * FROM oidc_identities WHERE user_id = ? ORDER BY created_at', [userId])).map(toIdentity);
    },
    async linkOidcIdentity({ issuer, subject, providerId, userId, email, now }) {
      try {
        await db.run('INSERT INTO oidc_identities (issuer, subject, provider_id, user_id, email, created_at) VALUES (?, ?, ?, ?, ?, ?)', [
          issuer,
          subject,
          providerId,
          userId,
          email,
          now,
        ]);
      } catch (error) {
        if (isTaken(error)) throw new StoreConflict('identity');
        throw error;
      }
    },
    async unlinkOidcIdentity(userId, issuer, subject) {
      // One statement: two unlinks at once must not both see "another link remains" (PostgreSQL: under a lock per account).
      const unlink = (tx: Pick<Db, 'run'>) =>
        tx.run(
          `DELETE FROM oidc_identities WHERE user_id = ? AND issuer = ? AND subject = ? AND (
             EXISTS (SELECT 1 FROM users WHERE id = ? AND password_hash <> ?)
             OR EXISTS (SELECT 1 FROM webauthn_credentials WHERE user_id = ?)
             OR (SELECT COUNT(*) FROM oidc_identities WHERE user_id = ?) > 1)`,
          [userId, issuer, subject, userId, NO_PASSWORD, userId, userId],
        );
      return (await db.transaction(unlink, { key: `account:${userId}` })) === 1;
    },
    async signInWithOidcIdentity({ issuer, subject, email, now }, computeGroups) {
      return db.transaction(async (tx) => {
        for (let attempt = 0; attempt < GROUP_RETRIES; attempt++) {
          const row = await tx.get('SELECT * FROM oidc_identities WHERE issuer = ? AND subject = ?', [issuer, subject]);
          const user = row && (await findUser(String(row['user_id'])));
          if (!row || !user) return undefined;
          const { groups, added } = computeGroups(user.groups, toIdentity(row).groups);
          // Compare-and-set: an administrator changing the groups meanwhile is not overwritten.
          const changed = await tx.run('UPDATE users SET groups = ? WHERE id = ? AND groups = ?', [JSON.stringify(groups), user.id, JSON.stringify(user.groups)]);
          if (changed === 0) continue;
          // Like an administrator's change of groups: tokens minted before it stop being trusted (setGroupMember).
          const claimsChanged = sameGroups(groups, user.groups) ? [] : await markClaimsChanged(tx, user.id, now);
          await tx.run('UPDATE oidc_identities SET groups = ?, email = ?, last_used_at = ? WHERE issuer = ? AND subject = ?', [
            JSON.stringify(added),
            email,
            now,
            issuer,
            subject,
          ]);
          return { user: { ...user, groups }, claimsChanged };
        }
        throw new Error('the account\'s groups kept changing during the sign-in');
      }, { key: `oidc:${issuer}:${subject}` });
    },
    async recordOidcSession({ sessionId, issuer, subject, sid }) {
      await db.run('INSERT INTO oidc_sessions (session_id, issuer, subject, sid) VALUES (?, ?, ?, ?)', [sessionId, issuer, subject, sid]);
    },
    async findOidcSessions(issuer, { subject, sid }) {
      if (subject === undefined && sid === undefined) return [];
      const rows = await db.all(
        `SELECT o.session_id FROM oidc_sessions o JOIN sessions s ON s.id = o.session_id
         WHERE o.issuer = ? AND (CAST(? AS TEXT) IS NULL OR o.subject = ?) AND (CAST(? AS TEXT) IS NULL OR o.sid = ?) AND s.revoked_at IS NULL`,
        [issuer, subject ?? null, subject ?? null, sid ?? null, sid ?? null],
      );
      return rows.map((row) => String(row['session_id']));
    },
  };
}
