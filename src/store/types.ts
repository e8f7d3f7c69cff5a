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
}

export interface NewUser {
  username: string;
  email?: string | null;
  passwordHash: string;
  admin?: boolean;
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

export interface Store {
  migrate(): Promise<void>;
  ping(): Promise<void>;
  close(): Promise<void>;

  /** Creates a user; the first one on an empty database is an administrator. Throws StoreConflict. */
  createUser(user: NewUser): Promise<User>;
  findUserById(id: string): Promise<User | undefined>;
  /** By username or email, both case-insensitive. */
  findUserByLogin(login: string): Promise<User | undefined>;
  listUsers(): Promise<User[]>;
  setPasswordHash(userId: string, passwordHash: string): Promise<void>;
  setDisabled(userId: string, disabled: boolean): Promise<void>;

  createSession(session: { id: string; userId: string; refreshHash: string; now: number }): Promise<void>;
  findSession(id: string): Promise<Session | undefined>;
  /** Replaces the refresh token only if it is still `expectedHash` and the session is live. */
  rotateRefresh(rotation: Rotation): Promise<boolean>;
  revokeSession(id: string, now: number): Promise<boolean>;
  /** Revokes every live session of the user; returns their ids. */
  revokeUserSessions(userId: string, now: number): Promise<string[]>;
  revokedSessionsSince(since: number): Promise<string[]>;

  /** In the order they were added; the last one signs. */
  listSigningKeys(): Promise<SigningKey[]>;
  /** Adds a key; with `onlyIfNone`, only when the table is empty (first start, racing replicas). */
  addSigningKey(key: SigningKey, options?: { onlyIfNone?: boolean }): Promise<void>;
}

/** A unique field is already taken. */
export class StoreConflict extends Error {
  constructor(readonly field: 'username' | 'email') {
    super(`${field} is taken`);
  }
}

/** The key under which usernames and emails are unique: case-insensitive, Unicode-folded. */
export const loginKey = (value: string) => value.normalize('NFKC').toLowerCase();
