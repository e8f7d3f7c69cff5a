/**
 * Request paths as the upstream will see them (SPEC section 5): percent-decoded,
 * dot segments resolved, repeated slashes collapsed. Encodings that different
 * servers read differently are refused rather than guessed at, so that no
 * spelling of a protected path can pass for a public one.
 */

import { fail } from '../errors.js';

export class AmbiguousPath extends Error {
  constructor(readonly reason: string) {
    super(reason);
  }
}

const HEX_PAIR = /%([0-9A-Fa-f]{2})/g;
const HEX_PAIR_ANYWHERE = /%[0-9A-Fa-f]{2}/;
/** What an encoded byte must not stand for: / \ . ; NUL and other controls. */
const FORBIDDEN_ENCODED = new Set([0x2f, 0x5c, 0x2e, 0x3b, 0x7f, ...Array.from({ length: 0x20 }, (_, i) => i)]);
const CANONICAL = /^\/[A-Za-z0-9\-._~!$&'()*+,=:@/]*$/;
const DOT_SEGMENT = /\/\.\.?(\/|$)/;
/** Characters that need no encoding in a path (RFC 3986 pchar without '%' and ';'). */
const PATH_SAFE = /^[A-Za-z0-9\-._~!$&'()*+,=:@/]$/;

/**
 * The normalised path of a raw request path (no query), or AmbiguousPath.
 * The result is re-encoded canonically, so it can be sent upstream as is.
 */
export function normalizePath(raw: string): string {
  // The common case, already canonical: plain characters, no dot segments, no empty segments.
  if (CANONICAL.test(raw) && !raw.includes('//') && !DOT_SEGMENT.test(raw)) return raw;
  if (!raw.startsWith('/')) throw new AmbiguousPath('path_not_absolute');
  if (raw.includes(';')) throw new AmbiguousPath('path_parameters');
  if (raw.includes('\\')) throw new AmbiguousPath('backslash');
  if (/%(?![0-9A-Fa-f]{2})/.test(raw)) throw new AmbiguousPath('invalid_percent_encoding');
  for (const [, hex] of raw.matchAll(HEX_PAIR)) {
    if (FORBIDDEN_ENCODED.has(parseInt(hex!, 16))) throw new AmbiguousPath('encoded_separator_or_control');
  }
  let decoded: string;
  try {
    // decodeURIComponent refuses overlong and otherwise invalid UTF-8 sequences.
    decoded = decodeURIComponent(raw);
  } catch {
    throw new AmbiguousPath('invalid_utf8');
  }
  if (/[\u0000-\u001f\u007f]/.test(decoded)) throw new AmbiguousPath('control_character');
  // %252e is %2e after one more decoding, %25252e after two: an upstream that decodes again would read
  // what was never judged (a dot segment, a slash). No path needs to carry an encoding in encoded form.
  if (HEX_PAIR_ANYWHERE.test(decoded)) throw new AmbiguousPath('double_encoding');
  const segments: string[] = [];
  for (const segment of decoded.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') segments.pop();
    else segments.push(segment);
  }
  const trailing = decoded.length > 1 && (decoded.endsWith('/') || /\/\.\.?$/.test(decoded)) && segments.length > 0;
  return '/' + segments.map(encodeSegment).join('/') + (trailing ? '/' : '');
}

function encodeSegment(segment: string): string {
  let out = '';
  for (const char of segment) out += PATH_SAFE.test(char) ? char : encodeURIComponent(char);
  return out;
}

/** normalizePath for a request: an ambiguous path is the client's error, 400. */
export function judgedPath(raw: string): string {
  try {
    return normalizePath(raw);
  } catch (error) {
    if (error instanceof AmbiguousPath) throw fail('ambiguous_path', `The path is ambiguous (${error.reason}) and was refused.`);
    throw error;
  }
}
