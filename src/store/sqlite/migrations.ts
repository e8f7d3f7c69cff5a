/** Versioned schema changes, applied in order, each exactly once. Never edit a shipped entry: add one. */
export const MIGRATIONS: readonly string[] = [
  `CREATE TABLE users (
     id TEXT PRIMARY KEY,
     username TEXT NOT NULL,
     username_key TEXT NOT NULL UNIQUE,
     email TEXT,
     email_key TEXT UNIQUE,
     password_hash TEXT NOT NULL,
     groups TEXT NOT NULL DEFAULT '[]',
     disabled INTEGER NOT NULL DEFAULT 0,
     created_at INTEGER NOT NULL
   );
   CREATE TABLE sessions (
     id TEXT PRIMARY KEY,
     user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
     created_at INTEGER NOT NULL,
     last_used_at INTEGER NOT NULL,
     refresh_hash TEXT NOT NULL,
     prev_refresh_hash TEXT,
     rotated_at INTEGER,
     sealed_refresh TEXT,
     revoked_at INTEGER
   );
   CREATE INDEX sessions_user ON sessions(user_id);
   CREATE INDEX sessions_revoked ON sessions(revoked_at) WHERE revoked_at IS NOT NULL;
   CREATE TABLE signing_keys (
     kid TEXT PRIMARY KEY,
     alg TEXT NOT NULL,
     private_jwk TEXT NOT NULL,
     public_jwk TEXT NOT NULL,
     created_at INTEGER NOT NULL
   );`,
  `ALTER TABLE users ADD COLUMN display_name TEXT;
   ALTER TABLE users ADD COLUMN email_verified INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE users ADD COLUMN totp_secret TEXT;
   ALTER TABLE users ADD COLUMN totp_enabled INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE users ADD COLUMN totp_last_step INTEGER;
   CREATE TABLE recovery_codes (
     user_id TEXT NOT NULL,
     code_hash TEXT NOT NULL,
     used_at INTEGER,
     PRIMARY KEY (user_id, code_hash)
   );
   CREATE TABLE one_time_tokens (
     hash TEXT PRIMARY KEY,
     purpose TEXT NOT NULL,
     user_id TEXT,
     data TEXT,
     expires_at INTEGER NOT NULL,
     used_at INTEGER
   );
   CREATE INDEX one_time_tokens_expiry ON one_time_tokens(expires_at);
   CREATE TABLE mail_queue (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     recipient TEXT NOT NULL,
     subject TEXT NOT NULL,
     text_body TEXT NOT NULL,
     html_body TEXT NOT NULL,
     state TEXT NOT NULL DEFAULT 'queued',
     due_at INTEGER NOT NULL,
     attempts INTEGER NOT NULL DEFAULT 0,
     last_error TEXT,
     created_at INTEGER NOT NULL,
     sent_at INTEGER
   );
   CREATE INDEX mail_queue_due ON mail_queue(state, due_at);
   CREATE TABLE throttle_events (
     key TEXT NOT NULL,
     kind TEXT NOT NULL,
     at INTEGER NOT NULL
   );
   CREATE INDEX throttle_events_key ON throttle_events(kind, key, at);
   CREATE TABLE bans (
     key TEXT PRIMARY KEY,
     until INTEGER NOT NULL
   );
   CREATE TABLE webauthn_credentials (
     id TEXT PRIMARY KEY,
     user_id TEXT NOT NULL,
     public_key TEXT NOT NULL,
     counter INTEGER NOT NULL,
     transports TEXT NOT NULL DEFAULT '[]',
     name TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     last_used_at INTEGER
   );
   CREATE INDEX webauthn_credentials_user ON webauthn_credentials(user_id);`,
  `CREATE TABLE leases (
     name TEXT PRIMARY KEY,
     holder TEXT NOT NULL,
     expires_at INTEGER NOT NULL
   );`,
  // Groups as rows too (users.groups stays the JSON every read returns; triggers keep the rows in step with it,
  // whoever writes it), so that members of a group and counts per group are index lookups. And per session, when
  // its user's claims (groups) last changed: access tokens minted before that are no longer trusted.
  `CREATE TABLE user_groups (
     user_id TEXT NOT NULL,
     group_name TEXT NOT NULL,
     PRIMARY KEY (group_name, user_id)
   );
   CREATE INDEX user_groups_user ON user_groups(user_id);
   INSERT OR IGNORE INTO user_groups (user_id, group_name) SELECT users.id, each.value FROM users, json_each(users.groups) AS each;
   CREATE TRIGGER users_groups_inserted AFTER INSERT ON users BEGIN INSERT OR IGNORE INTO user_groups (user_id, group_name) SELECT NEW.id, value FROM json_each(NEW.groups); END;
   CREATE TRIGGER users_groups_updated AFTER UPDATE OF groups ON users BEGIN DELETE FROM user_groups WHERE user_id = NEW.id; INSERT OR IGNORE INTO user_groups (user_id, group_name) SELECT NEW.id, value FROM json_each(NEW.groups); END;
   CREATE TRIGGER users_groups_deleted AFTER DELETE ON users BEGIN DELETE FROM user_groups WHERE user_id = OLD.id; END;
   ALTER TABLE sessions ADD COLUMN claims_changed_at INTEGER;
   CREATE INDEX sessions_claims_changed ON sessions(claims_changed_at) WHERE claims_changed_at IS NOT NULL;`,
  `ALTER TABLE sessions ADD COLUMN device TEXT;
   ALTER TABLE sessions ADD COLUMN address TEXT;
   CREATE INDEX sessions_created ON sessions(created_at, id);`,
  // The audit log (SPEC section 11): names as they were then, kept after the user is gone (no foreign key).
  `CREATE TABLE audit_events (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     at INTEGER NOT NULL,
     type TEXT NOT NULL,
     user_id TEXT,
     username TEXT,
     actor_kind TEXT NOT NULL,
     actor_id TEXT,
     actor_username TEXT,
     address TEXT,
     details TEXT NOT NULL DEFAULT '{}'
   );
   CREATE INDEX audit_events_user ON audit_events(user_id, id);
   CREATE INDEX audit_events_type ON audit_events(type, id);
   CREATE INDEX audit_events_at ON audit_events(at);`,
  `CREATE TABLE oidc_identities (
     issuer TEXT NOT NULL,
     subject TEXT NOT NULL,
     provider_id TEXT NOT NULL,
     user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
     email TEXT,
     groups TEXT NOT NULL DEFAULT '[]',
     created_at INTEGER NOT NULL,
     last_used_at INTEGER,
     PRIMARY KEY (issuer, subject)
   );
   CREATE INDEX oidc_identities_user ON oidc_identities(user_id);
   CREATE TABLE oidc_sessions (
     session_id TEXT PRIMARY KEY REFERENCES sessions(id) ON DELETE CASCADE,
     issuer TEXT NOT NULL,
     subject TEXT NOT NULL,
     sid TEXT
   );
   CREATE INDEX oidc_sessions_subject ON oidc_sessions(issuer, subject);
   CREATE INDEX oidc_sessions_sid ON oidc_sessions(issuer, sid);`,
];
