/**
 * Keyset paging of the admin lists: `limit` 1-200 (default 50), and an opaque cursor
 * (base64url) naming the last row of the previous page. Each list chooses what its
 * position is (a username key, a time and an id, an event id) and how to read it back;
 * the encoding is shared. A malformed limit or cursor is 400 invalid_field, never a 5xx.
 */
import { fail } from '../errors.js';

export const DEFAULT_LIMIT = 50;
export const MAX_LIMIT = 200;
/** Room for a position of 3 KB (a group name a provider granted has no set bound); past it, no decoding. */
const MAX_CURSOR = 4096;
const BASE64URL = /^[A-Za-z0-9_-]+$/;

/** A query parameter: absent when missing or empty (a form sends empty fields); 400 when given twice. */
export function queryParam(params: URLSearchParams, name: string): string | undefined {
  const values = params.getAll(name);
  if (values.length > 1) throw fail('invalid_field', `Give "${name}" at most once.`);
  return values[0] === '' ? undefined : values[0];
}

export function pageLimit(value: string | undefined): number {
  if (value === undefined) return DEFAULT_LIMIT;
  const limit = /^\d{1,3}$/.test(value) ? Number(value) : NaN;
  if (!(limit >= 1 && limit <= MAX_LIMIT)) throw fail('invalid_field', `"limit" is a whole number from 1 to ${MAX_LIMIT}.`);
  return limit;
}

/** The cursor of a position (any text). */
export const encodeCursor = (position: string) => Buffer.from(position, 'utf8').toString('base64url');

/**
 * The position a cursor names, read by the list's own `parse` (undefined for text that is not
 * one of its positions). Only the exact encoding this server writes passes: a cursor is
 * never a way to put arbitrary bytes into a query.
 */
export function decodeCursor<T>(cursor: string | undefined, parse: (position: string) => T | undefined): T | undefined {
  if (cursor === undefined) return undefined;
  const position = cursor.length <= MAX_CURSOR && BASE64URL.test(cursor) ? utf8(Buffer.from(cursor, 'base64url')) : undefined;
  const parsed = position !== undefined && encodeCursor(position) === cursor ? parse(position) : undefined;
  if (parsed === undefined) throw fail('invalid_field', 'The cursor is not one this list handed out.');
  return parsed;
}

function utf8(bytes: Buffer): string | undefined {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return undefined;
  }
}

/**
 * A page from a query that asked for one row more than `limit`: the rows, and the cursor of
 * the next page, null on the last (the extra row tells, without a second query).
 */
export function pageOf<T>(rows: T[], limit: number, positionOf: (last: T) => string): { items: T[]; next_cursor: string | null } {
  const items = rows.slice(0, limit);
  return { items, next_cursor: rows.length > limit ? encodeCursor(positionOf(items.at(-1)!)) : null };
}
