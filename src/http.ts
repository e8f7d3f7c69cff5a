/** Reading request bodies and fields, and the headers of gatehouse's own answers. */
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Config } from './config.js';
import { fail } from './errors.js';

/** Auth endpoints take small bodies; anything bigger is refused before it is read whole. */
export const AUTH_BODY_LIMIT = 64 * 1024;

export type Fields = Record<string, unknown>;
export interface ParsedBody {
  kind: 'json' | 'form';
  fields: Fields;
}

const tooLarge = () => fail('body_too_large', `Request bodies are limited to ${AUTH_BODY_LIMIT / 1024} KiB.`);

async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) throw tooLarge();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw tooLarge();
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** Strict: invalid UTF-8 would otherwise turn different passwords into the same string. */
function utf8(body: Buffer): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(body);
  } catch {
    throw fail('invalid_encoding');
  }
}

/** A JSON object or a urlencoded form; other content types are 415. */
export async function parseBody(req: IncomingMessage): Promise<ParsedBody> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  const text = utf8(await readBody(req, AUTH_BODY_LIMIT));
  // A bodiless POST (a fetch to /refresh or /logout relying on cookies) needs no content type.
  if (type === '' && text === '') return { kind: 'json', fields: {} };
  if (type !== 'application/json' && type !== 'application/x-www-form-urlencoded') {
    throw fail('unsupported_media_type');
  }
  if (type === 'application/x-www-form-urlencoded') {
    return { kind: 'form', fields: Object.fromEntries(new URLSearchParams(text)) };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw fail('invalid_json');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw fail('invalid_json', 'The body must be a JSON object.');
  }
  return { kind: 'json', fields: parsed as Fields };
}

/** A string field: 400 naming the field when it is missing (if required), not a string, or too long. */
export function stringField(fields: Fields, name: string, options: { required: true; max?: number }): string;
export function stringField(fields: Fields, name: string, options?: { required?: false; max?: number }): string | undefined;
export function stringField(fields: Fields, name: string, { required = false, max = 4096 } = {}): string | undefined {
  const value = fields[name];
  if (value === undefined || value === null || value === '') {
    if (required) throw fail('missing_field', `The field "${name}" is required.`);
    return undefined;
  }
  if (typeof value !== 'string') throw fail('invalid_field', `The field "${name}" must be a string.`);
  if (value.length > max) throw fail('invalid_field', `The field "${name}" is too long.`);
  return value;
}

/** Headers on every answer gatehouse writes itself (not on the upstream's answers it passes on). */
export function answerHeaders(config: Pick<Config, 'public_url'>): OutgoingHttpHeaders {
  return {
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    // same-origin, not no-referrer: with no-referrer, browsers send "Origin: null" on our own form posts.
    'referrer-policy': 'same-origin',
    // Only over https: on http a browser ignores it, and a test setup must not be pinned to https.
    ...(config.public_url.startsWith('https:') && { 'strict-transport-security': 'max-age=31536000' }),
  };
}

/** For answers outside a request scope (the management port): JSON with the common headers. */
export function writeJson(res: ServerResponse, status: number, body: unknown): void {
  const payload = JSON.stringify(body);
  res.writeHead(status, { 'cache-control': 'no-store', 'x-content-type-options': 'nosniff', 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(payload) });
  res.end(payload);
}
