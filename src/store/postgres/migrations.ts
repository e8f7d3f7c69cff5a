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
  // As in SQLite: groups as rows kept in step with users.groups by a trigger, and when a session's claims changed.
  `CREATE TABLE user_groups (
     user_id TEXT NOT NULL,
     group_name TEXT NOT NULL,
     PRIMARY KEY (group_name, user_id)
   );
   CREATE INDEX user_groups_user ON user_groups(user_id);
   INSERT INTO user_groups (user_id, group_name)
     SELECT DISTINCT users.id, each.value FROM users, jsonb_array_elements_text(users.groups::jsonb) AS each(value);
   CREATE FUNCTION users_groups_sync() RETURNS trigger LANGUAGE plpgsql AS $$
   BEGIN
     IF TG_OP <> 'INSERT' THEN DELETE FROM user_groups WHERE user_id = OLD.id; END IF;
     IF TG_OP <> 'DELETE' THEN
       INSERT INTO user_groups (user_id, group_name)
         SELECT DISTINCT NEW.id, each.value FROM jsonb_array_elements_text(NEW.groups::jsonb) AS each(value)
         ON CONFLICT DO NOTHING;
     END IF;
     RETURN NULL;
   END $$;
   CREATE TRIGGER users_groups_sync AFTER INSERT OR DELETE OR UPDATE OF groups ON users
     FOR EACH ROW EXECUTE FUNCTION users_groups_sync();
   ALTER TABLE sessions ADD COLUMN claims_changed_at BIGINT;
   CREATE INDEX sessions_claims_changed ON sessions(claims_changed_at) WHERE claims_changed_at IS NOT NULL;`,
  `ALTER TABLE sessions ADD COLUMN device TEXT;
   ALTER TABLE sessions ADD COLUMN address TEXT;
   CREATE INDEX sessions_created ON sessions(created_at, id);`,
  // The audit log (SPEC section 11): names as they were then, kept after the user is gone (no foreign key).
  `CREATE TABLE audit_events (
     id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
     at BIGINT NOT NULL,
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
