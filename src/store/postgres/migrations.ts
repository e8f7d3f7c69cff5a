/**
 * The PostgreSQL schema, in numbered migrations applied in order, each once, each
 * in one transaction. Never edit a shipped entry: add one. The tables and columns
 * are those of the SQLite schema, spelled for PostgreSQL: millisecond timestamps
 * are BIGINT, flags stay 0/1 SMALLINT so that the shared queries read both alike,
 * and an identity column keeps the order rows were added in (SQLite's rowid).
 */
export const POSTGRES_MIGRATIONS: readonly string[] = [
  `CREATE TABLE users (
     id TEXT PRIMARY KEY,
     username TEXT NOT NULL,
     username_key TEXT NOT NULL UNIQUE,
     email TEXT,
     email_key TEXT UNIQUE,
     password_hash TEXT NOT NULL,
     groups TEXT NOT NULL DEFAULT '[]',
     disabled SMALLINT NOT NULL DEFAULT 0,
     created_at BIGINT NOT NULL,
     display_name TEXT,
     email_verified SMALLINT NOT NULL DEFAULT 0,
     totp_secret TEXT,
     totp_enabled SMALLINT NOT NULL DEFAULT 0,
     totp_last_step BIGINT
   );
   CREATE TABLE sessions (
     id TEXT PRIMARY KEY,
     user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
     created_at BIGINT NOT NULL,
     last_used_at BIGINT NOT NULL,
     refresh_hash TEXT NOT NULL,
     prev_refresh_hash TEXT,
     rotated_at BIGINT,
     sealed_refresh TEXT,
     revoked_at BIGINT
   );
   CREATE INDEX sessions_user ON sessions(user_id);
   CREATE INDEX sessions_revoked ON sessions(revoked_at) WHERE revoked_at IS NOT NULL;
   CREATE TABLE signing_keys (
     seq BIGINT GENERATED ALWAYS AS IDENTITY,
     kid TEXT PRIMARY KEY,
     alg TEXT NOT NULL,
     private_jwk TEXT NOT NULL,
     public_jwk TEXT NOT NULL,
     created_at BIGINT NOT NULL
   );
   CREATE TABLE recovery_codes (
     user_id TEXT NOT NULL,
     code_hash TEXT NOT NULL,
     used_at BIGINT,
     PRIMARY KEY (user_id, code_hash)
   );
   CREATE TABLE one_time_tokens (
     hash TEXT PRIMARY KEY,
     purpose TEXT NOT NULL,
     user_id TEXT,
     data TEXT,
     expires_at BIGINT NOT NULL,
     used_at BIGINT
   );
   CREATE INDEX one_time_tokens_expiry ON one_time_tokens(expires_at);
   CREATE TABLE mail_queue (
     id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
     recipient TEXT NOT NULL,
     subject TEXT NOT NULL,
     text_body TEXT NOT NULL,
     html_body TEXT NOT NULL,
     state TEXT NOT NULL DEFAULT 'queued',
     due_at BIGINT NOT NULL,
     attempts INTEGER NOT NULL DEFAULT 0,
     last_error TEXT,
     created_at BIGINT NOT NULL,
     sent_at BIGINT
   );
   CREATE INDEX mail_queue_due ON mail_queue(state, due_at);
   CREATE TABLE throttle_events (
     id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
     key TEXT NOT NULL,
     kind TEXT NOT NULL,
     at BIGINT NOT NULL
   );
   CREATE INDEX throttle_events_key ON throttle_events(kind, key, at);
   CREATE TABLE bans (
     key TEXT PRIMARY KEY,
     until BIGINT NOT NULL
   );
   CREATE TABLE webauthn_credentials (
     id TEXT PRIMARY KEY,
     user_id TEXT NOT NULL,
     public_key TEXT NOT NULL,
     counter BIGINT NOT NULL,
     transports TEXT NOT NULL DEFAULT '[]',
     name TEXT NOT NULL,
     created_at BIGINT NOT NULL,
     last_used_at BIGINT
   );
   CREATE INDEX webauthn_credentials_user ON webauthn_credentials(user_id);`,
  `CREATE TABLE leases (
     name TEXT PRIMARY KEY,
     holder TEXT NOT NULL,
     expires_at BIGINT NOT NULL
   );`,
  `CREATE TABLE oidc_identities (
     issuer TEXT NOT NULL,
     subject TEXT NOT NULL,
     provider_id TEXT NOT NULL,
     user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
     email TEXT,
     groups TEXT NOT NULL DEFAULT '[]',
     created_at BIGINT NOT NULL,
     last_used_at BIGINT,
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
