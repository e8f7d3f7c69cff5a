/**
 * The store contract. Callers see only these types; SQL lives behind them so
 * another backend (PostgreSQL for many replicas) can be added without touching
 * callers. test/store-contract.test.ts runs the same suite on every backend.
 */
export interface User {
  id: string;
  username: string;
  email: string | null;
  groups: string[];
  passwordHash: string;
  disabled: boolean;
  createdAt: number;
  displayName: string | null;
  emailVerified: boolean;
  /** Base32; set while enrolling, and once enabled. */
  totpSecret: string | null;
  totpEnabled: boolean;
}

export interface NewUser {
  username: string;
  email?: string | null;
  passwordHash: string;
  admin?: boolean;
  /** Groups besides `admins` (which `admin`, or being the first account, adds). */
  groups?: string[];
  /** The address counts as confirmed from the start (set by an administrator, or named by the invite). */
  emailVerified?: boolean;
  /** Create the user only on an empty database, decided in the same statement; else throw NotFirstUser. */
  onlyIfFirst?: boolean;
  /**
   * The hash of an invite (one-time token of purpose `invite`), consumed in the same transaction:
   * of any number of racing registrations with it, at most one creates an account. Throws
   * TokenUnusable, creating nothing, when it is unknown, used or expired; a refused account
   * (a taken name) leaves it unused.
   */
  inviteHash?: string;
  now: number;
}

export interface Session {
  id: string;
  userId: string;
  createdAt: number;
  lastUsedAt: number;
  refreshHash: string;
  /** The refresh token replaced by the last rotation, honoured during refresh_grace. */
  prevRefreshHash: string | null;
  rotatedAt: number | null;
  /** The current refresh token sealed with a key only the previous token's holder can derive. */
  sealedRefresh: string | null;
  revokedAt: number | null;
  /** Browser and system at sign-in ("Firefox 128 on Windows"); null for sessions older than the column. */
  device: string | null;
  /** The client address at sign-in. */
  address: string | null;
}

/** A session as administrators list it: with its user's name. */
export interface ListedSession extends Session {
  username: string;
}

export interface SessionQuery {
  /** Only this user's sessions. */
  userId?: string;
  /** Live only: not revoked, used at or after `usedSince`, created at or after `createdSince`. */
  usedSince: number;
  createdSince: number;
  limit: number;
  /** Keyset paging: only sessions after this one in the order (newest first, then by id). */
  after?: { createdAt: number; id: string };
}

export interface Rotation {
  sessionId: string;
  expectedHash: string;
  newHash: string;
  sealedRefresh: string;
  now: number;
}

export interface SigningKey {
  kid: string;
  alg: string;
  privateJwk: string;
  publicJwk: string;
  createdAt: number;
}

export interface OneTimeToken {
  hash: string;
  purpose: 'password_reset' | 'magic_link' | 'email_verify' | 'mfa' | 'webauthn' | 'invite' | 'oidc';
  userId: string | null;
  /** Purpose-specific: the address to verify, the rd to return to, a challenge. */
  data: string | null;
  expiresAt: number;
}

export interface QueuedMail {
  id: number;
  recipient: string;
  subject: string;
  text: string;
  html: string;
  attempts: number;
}

export interface Credential {
  id: string;
  userId: string;
  publicKey: string;
  counter: number;
  transports: string[];
  name: string;
  createdAt: number;
  lastUsedAt: number | null;
}

/** One event of the audit log as kept (SPEC section 11); usernames as they were when it happened. */
export interface StoredAuditEvent {
  /** Grows with every event appended, never reused (the keyset of paging). */
  id: number;
  at: number;
  type: string;
  userId: string | null;
  username: string | null;
  actorKind: 'user' | 'admin' | 'cli' | 'system';
  actorId: string | null;
  actorUsername: string | null;
  address: string | null;
  details: Record<string, unknown>;
}

export interface AuditQuery {
  userId?: string;
  /** The username recorded with the event (the CLI's way to a deleted user's events). */
  username?: string;
  type?: string;
  /** Events at or after this time. */
  since?: number;
  /** Events with an id below this one: the cursor of the next page. */
  before?: number;
  limit: number;
}

/** An account's identity at another provider (SPEC section 12): the pair (issuer, subject), never an address. */
export interface OidcIdentity {
  issuer: string;
  subject: string;
  /** The `oidc_providers` entry it came through. */
  providerId: string;
  userId: string;
  /** The address the provider vouched for at the last sign-in, if any (shown on the account page). */
  email: string | null;
  /** The groups this identity added to the account at its last sign-in (oidc/accounts.ts, mergeGroups). */
  groups: string[];
  createdAt: number;
  lastUsedAt: number | null;
}

/** A standing connection that hears what other replicas announce; see Store.watchRevocations. */
export interface Subscription {
  readonly connected: boolean;
  close(): Promise<void>;
}

export interface RevocationHandlers {
  /** Sessions another replica (or this one) revoked, as they commit; `sentAt`: the revoker's clock when it committed. */
  onRevoked(sessionIds: string[], sentAt: number): void;
  /** Sessions whose user's claims (groups) changed, as they commit; see Store.setGroupMember. */
  onClaimsChanged?(marks: ClaimsChange[], sentAt: number): void;
  /** (Re)connected: whatever was announced while deaf must be read back. */
  onConnected(): void;
  onDisconnected(error: unknown): void;
}

/** A session whose user's claims changed at `at`: access tokens minted before then carry old ones. */
export interface ClaimsChange {
  sessionId: string;
  at: number;
}

/** A group name (SPEC section 11): 1 to 64 of A-Z a-z 0-9 . _ -, in the case given. */
export const GROUP_NAME = /^[A-Za-z0-9._-]{1,64}$/;

/** What a change guarded by the last-administrator rule came to. */
export type GuardedChange = 'changed' | 'unchanged' | 'last_admin' | 'not_found';

export interface UserFilter {
  /** A substring of the username or email, case-insensitive. */
  query?: string;
  group?: string;
  limit: number;
  /** Keyset paging: users after this username key (loginKey), in that order. */
  after?: string;
}

export interface GroupCount {
  name: string;
  members: number;
}

/** What a store has done since it opened, for the metrics. */
export interface StoreStats {
  queries: number;
  /** Statements that failed, and among them those that could not reach the database. */
  failures: number;
  unavailable: number;
  /** PostgreSQL's connection pool: open connections, idle ones, requests waiting for one. */
  pool?: { total: number; idle: number; waiting: number };
}

export interface Store {
  stats(): StoreStats;
  /** Applies what is missing of the schema, each migration once however many replicas start at once; returns how many it applied. */
  migrate(): Promise<number>;
  /** How many migrations the database still lacks (serve --no-migrate refuses to start on one that lacks any). */
  pendingMigrations(): Promise<number>;
  ping(): Promise<void>;
  close(): Promise<void>;

  /** Creates a user; the first one on an empty database is an administrator. Throws StoreConflict (and NotFirstUser, see NewUser). */
  createUser(user: NewUser): Promise<User>;
  /** Whether any account exists. */
  hasUsers(): Promise<boolean>;
  findUserById(id: string): Promise<User | undefined>;
  /** By username or email, both case-insensitive. */
  findUserByLogin(login: string): Promise<User | undefined>;
  listUsers(): Promise<User[]>;
  setPasswordHash(userId: string, passwordHash: string): Promise<void>;
  setDisabled(userId: string, disabled: boolean): Promise<void>;
  setDisplayName(userId: string, displayName: string | null): Promise<void>;
  /** Throws StoreConflict('email') when another account has it. */
  setEmail(userId: string, email: string | null, verified: boolean): Promise<void>;
  deleteUser(userId: string): Promise<void>;
  setTotp(userId: string, secret: string | null, enabled: boolean): Promise<void>;
  /** Records a used TOTP time step; false when this or a later step was already used (a replay). */
  useTotpStep(userId: string, step: number): Promise<boolean>;
  replaceRecoveryCodes(userId: string, codeHashes: string[]): Promise<void>;
  /** Marks the code used; false when it is unknown or already used. */
  useRecoveryCode(userId: string, codeHash: string, now: number): Promise<boolean>;

  createOneTimeToken(token: OneTimeToken): Promise<void>;
  /** A live token, without using it up (a pending second factor allows retries). */
  findOneTimeToken(hash: string, purpose: OneTimeToken['purpose'], now: number): Promise<OneTimeToken | undefined>;
  /** Consumes the token atomically: of two racing callers, only one gets it. */
  consumeOneTimeToken(hash: string, purpose: OneTimeToken['purpose'], now: number): Promise<OneTimeToken | undefined>;
  /** Creates the token and deletes every unused one of its user and purpose, in one transaction: the newest is the only one. */
  replaceOneTimeTokens(token: OneTimeToken & { userId: string }): Promise<void>;
  /** Like consumeOneTimeToken, and in the same transaction deletes every other unused token of its user and purpose. */
  consumeOneTimeTokenRetiringOthers(hash: string, purpose: OneTimeToken['purpose'], now: number): Promise<OneTimeToken | undefined>;
  /**
   * The owner of the account's unconfirmed address has proven it (SPEC section 7, pre-hijacking):
   * in one transaction, confirms `email` and removes whatever was set before it: the password
   * (`passwordHash` takes its place), TOTP, recovery codes, passkeys, linked providers and unused
   * one-time tokens.
   * Only while the account holds `email` unconfirmed; otherwise changes nothing and answers false,
   * so of two racing proofs exactly one wipes.
   */
  confirmEmailWipingCredentials(userId: string, email: string, passwordHash: string): Promise<boolean>;

  /** Throws StoreConflict('credential') when the id is taken (by any account). */
  addCredential(credential: Credential): Promise<void>;
  listCredentials(userId: string): Promise<Credential[]>;
  findCredential(id: string): Promise<Credential | undefined>;
  /** Stores a new sign counter and use time; false if the counter did not grow (a cloned authenticator). */
  useCredential(id: string, counter: number, now: number): Promise<boolean>;
  renameCredential(userId: string, id: string, name: string): Promise<boolean>;
  deleteCredential(userId: string, id: string): Promise<boolean>;

  enqueueMail(mail: { recipient: string; subject: string; text: string; html: string; now: number }): Promise<void>;
  /**
   * Takes the next due message and marks it as being sent; also a message whose
   * claim is older than `staleBefore`, left by a replica that died while sending it.
   */
  claimMail(now: number, staleBefore: number): Promise<QueuedMail | undefined>;
  markMailSent(id: number, now: number): Promise<void>;
  retryMail(id: number, error: string, dueAt: number): Promise<void>;
  /** Gives up on a message after its last attempt. */
  failMail(id: number, error: string): Promise<void>;
  mailQueueDepth(): Promise<number>;

  /** How many events of `kind` for `key` fall at or after `since` (failed sign-ins, mails sent). */
  countEvents(kind: string, key: string, since: number): Promise<number>;
  /**
   * Records an event of `kind` for `key` at `now` only if the key is not banned and
   * fewer than `max` such events fall at or after `since`; returns the event's id, or
   * undefined when refused. Atomic: of any number of concurrent callers (in any
   * replica), at most `max` get an id. (PostgreSQL: the same INSERT … SELECT under a
   * transaction-scoped advisory lock on kind and key.)
   */
  takeEvent(kind: string, key: string, limit: { now: number; since: number; max: number }): Promise<number | undefined>;
  /** Forgets one event taken by takeEvent (an attempt that turned out right); a no-op once cleared. */
  dropEvent(kind: string, key: string, id: number): Promise<void>;
  ban(key: string, until: number): Promise<void>;
  bannedUntil(key: string, now: number): Promise<number | undefined>;
  clearEvents(kind: string, key: string): Promise<void>;
  /**
   * Takes (or keeps) the lease `name` for `holder` until `until`, if no other holder
   * has it past `now`: of many replicas asking at once, one gets it. For work that
   * one replica at a time should do (pruning).
   */
  takeLease(name: string, holder: string, now: number, until: number): Promise<boolean>;
  /**
   * Drops what no longer matters: throttle events before `eventsBefore`, ended bans,
   * expired one-time tokens, sessions created before `sessionsBefore` (past any
   * lifetime, and past the revocation horizon), mail handled before `eventsBefore`.
   */
  prune(limits: { eventsBefore: number; sessionsBefore: number; now: number }): Promise<void>;

  createSession(session: { id: string; userId: string; refreshHash: string; now: number; device?: string | null; address?: string | null }): Promise<void>;
  findSession(id: string): Promise<Session | undefined>;
  /** Replaces the refresh token only if it is still `expectedHash` and the session is live. */
  rotateRefresh(rotation: Rotation): Promise<boolean>;
  /**
   * The common refresh in one statement: rotates only if the session is live (not
   * revoked, used at or after `usedSince`, created at or after `createdSince`) and
   * its user is enabled; returns that user, or undefined when any of it fails.
   */
  rotateLiveRefresh(rotation: Rotation & { usedSince: number; createdSince: number }): Promise<User | undefined>;
  revokeSession(id: string, now: number): Promise<boolean>;
  /** Revokes every live session of the user; returns their ids. */
  revokeUserSessions(userId: string, now: number): Promise<string[]>;
  /**
   * Hears revocations as other replicas commit them (PostgreSQL LISTEN); undefined
   * for a store that cannot, whose replicas learn by revokedSessionsSince alone.
   */
  watchRevocations?(handlers: RevocationHandlers): Subscription;
  revokedSessionsSince(since: number): Promise<string[]>;
  /** Live sessions of a user, newest first. */
  listUserSessions(userId: string): Promise<Session[]>;
  /** Live sessions (of everyone, or of one user), newest first, one page of keyset paging. */
  listSessions(query: SessionQuery): Promise<ListedSession[]>;

  /**
   * Adds the user to `group` or removes them from it. Refused ('last_admin') when it would leave no
   * enabled member of `admins`, decided in the database so that racing changes (any replica) cannot
   * both pass. When it changes anything, the user's live sessions are marked in the same transaction
   * (claims_changed_at = `now`, announced like revocations); their ids come back.
   */
  setGroupMember(change: { userId: string; group: string; member: boolean; now: number }): Promise<{ result: GuardedChange; sessionIds: string[] }>;
  /** Groups (those with members) by name, with their member counts. */
  listGroups(page: { limit: number; after?: string }): Promise<GroupCount[]>;
  /** Users by username key, filtered; keyset paging. */
  findUsers(filter: UserFilter): Promise<User[]>;
  /** setDisabled under the last-administrator rule (disabling the last enabled admin is refused). */
  setDisabledKeepingAdmin(userId: string, disabled: boolean): Promise<GuardedChange>;
  /**
   * deleteUser under the last-administrator rule; the user's live sessions are revoked in the
   * same transaction (and announced). Their ids come back.
   */
  deleteUserKeepingAdmin(userId: string, now: number): Promise<{ result: GuardedChange; sessionIds: string[] }>;
  /** In one transaction: TOTP off and its secret gone, recovery codes and passkeys deleted. */
  resetFactors(userId: string): Promise<void>;
  /** How many recovery codes of the user are unused. */
  countRecoveryCodes(userId: string): Promise<number>;
  /** Lifts the ban of `key` and forgets its events of `kind` (the counted failures). */
  liftBan(kind: string, key: string): Promise<void>;
  /** Sessions whose claims changed at or after `since` (other replicas, the CLI). */
  claimsChangedSince(since: number): Promise<ClaimsChange[]>;

  appendAuditEvent(event: Omit<StoredAuditEvent, 'id'>): Promise<void>;
  /** Newest first (highest id first), at most `limit`. */
  listAuditEvents(query: AuditQuery): Promise<StoredAuditEvent[]>;
  /** Drops audit events before `before` (the retention); returns how many. */
  pruneAuditEvents(before: number): Promise<number>;

  findOidcIdentity(issuer: string, subject: string): Promise<OidcIdentity | undefined>;
  listOidcIdentities(userId: string): Promise<OidcIdentity[]>;
  /** Throws StoreConflict('identity') when the pair is linked already (to any account). */
  linkOidcIdentity(identity: { issuer: string; subject: string; providerId: string; userId: string; email: string | null; now: number }): Promise<void>;
  /**
   * Removes the link only while the account keeps another way to sign in (a password, a
   * passkey or another link), decided in the database; false when it did not.
   */
  unlinkOidcIdentity(userId: string, issuer: string, subject: string): Promise<boolean>;
  /**
   * A sign-in through the identity: its email and use time, and the account's groups with
   * `computeGroups(current groups, groups the identity added last time)`, which returns the
   * account's new groups and the ones the identity adds now. Returns the updated user and,
   * when the groups changed, the live sessions it marked as setGroupMember does.
   */
  signInWithOidcIdentity(
    identity: { issuer: string; subject: string; email: string | null; now: number },
    computeGroups: (current: string[], previous: string[]) => { groups: string[]; added: string[] },
  ): Promise<{ user: User; claimsChanged: string[] } | undefined>;
  /** Remembers that a gatehouse session came from a provider's session, for back-channel logout. */
  recordOidcSession(link: { sessionId: string; issuer: string; subject: string; sid: string | null }): Promise<void>;
  /** The live gatehouse sessions that came from the provider's session `sid`, or from any session of `subject`. */
  findOidcSessions(issuer: string, match: { subject?: string; sid?: string }): Promise<string[]>;

  /** In the order they were added; the last one signs. */
  listSigningKeys(): Promise<SigningKey[]>;
  /** Adds a key; with `onlyIfNone`, only when the table is empty (first start, racing replicas). */
  addSigningKey(key: SigningKey, options?: { onlyIfNone?: boolean }): Promise<void>;
}

/** The database cannot be reached (refused, cut off, shutting down): a 503, and a retry later works. */
export class StoreUnavailable extends Error {
  constructor(cause: unknown) {
    super(`the database cannot be reached: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
}

/** A unique field is already taken. */
export class StoreConflict extends Error {
  constructor(readonly field: 'username' | 'email' | 'credential' | 'identity') {
    super(`${field} is taken`);
  }
}

/** createUser with `onlyIfFirst`, when an account already exists. */
export class NotFirstUser extends Error {
  constructor() {
    super('an account already exists');
  }
}

/** createUser with `inviteHash`, when the invite is unknown, used or expired. */
export class TokenUnusable extends Error {
  constructor() {
    super('the invite is unknown, used or expired');
  }
}

/** The key under which usernames and emails are unique: case-insensitive, Unicode-folded. */
export const loginKey = (value: string) => value.normalize('NFKC').toLowerCase();
