/**
 * Method-override headers (SPEC section 5). Symfony, Laravel, ASP.NET and Express's
 * method-override run a POST carrying one of these as the method it names, so a
 * request is judged under both methods, and in proxy mode the headers are stripped.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { fail } from '../errors.js';

export const METHOD_OVERRIDE_HEADERS = ['x-http-method-override', 'x-http-method', 'x-method-override'] as const;

const METHOD = /^[A-Z]{1,16}$/;

/** The method an override header names, upper-cased as the frameworks read it; 400 when it names none. */
export function overridingMethod(value: string): string {
  const method = value.trim().toUpperCase();
  if (!METHOD.test(method)) throw fail('invalid_method_override');
  return method;
}

/**
 * The method a request's override header names, if any. More than one of them is
 * refused: which one an upstream reads is its own business.
 */
export function methodOverride(headers: IncomingHttpHeaders): string | undefined {
  const [a, b, c] = METHOD_OVERRIDE_HEADERS;
  // The common case, none of them: three lookups and nothing else.
  if (headers[a] === undefined && headers[b] === undefined && headers[c] === undefined) return undefined;
  const values = METHOD_OVERRIDE_HEADERS.map((name) => headers[name]).filter((value) => value !== undefined);
  if (values.length > 1) throw tooMany();
  return overridingMethod(String(values[0]));
}

export const tooMany = () => fail('duplicate_method_override');
