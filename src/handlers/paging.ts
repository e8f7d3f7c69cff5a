/**
 * Keyset paging of the admin lists: `limit` 1-200 (default 50), and an opaque cursor
 * (base64url) naming the last row of the previous page. A malformed limit or cursor is
 * 400 invalid_field, never a 5xx.
 */
import { fail } from '../errors.js';

export const DEFAULT_LIMIT = 50;
export const MAX_LIMIT = 200;

export function pageLimit(value: string | null): number {
  if (value === null) return DEFAULT_LIMIT;
  const limit = /^\d{1,3}$/.test(value) ? Number(value) : NaN;
  if (!(limit >= 1 && limit <= MAX_LIMIT)) throw fail('invalid_field', `limit must be a whole number from 1 to ${MAX_LIMIT}.`);
  return limit;
}

/** A position in a list ordered by a time, then an id. */
export interface Position {
  at: number;
  id: string;
}

export const encodeCursor = ({ at, id }: Position) => Buffer.from(`${at}.${id}`).toString('base64url');

const CURSOR = /^[A-Za-z0-9_-]{1,400}$/;
const POSITION = /^(\d{1,16})\.([A-Za-z0-9_-]{1,128})$/;

export function decodeCursor(value: string | null): Position | undefined {
  if (value === null) return undefined;
  const match = CURSOR.test(value) ? POSITION.exec(Buffer.from(value, 'base64url').toString('latin1')) : null;
  if (!match) throw fail('invalid_field', 'cursor is not one this list handed out.');
  return { at: Number(match[1]), id: match[2]! };
}
