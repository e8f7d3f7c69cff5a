/**
 * The device of a session, for the people who look at sessions (the account page,
 * administrators): browser and system from the user agent at sign-in, e.g.
 * "Firefox 128 on Windows". Only this text is kept, never the raw user agent: it is
 * all anyone is shown, it is short, and the full string mostly serves fingerprinting.
 */
import { UAParser } from 'ua-parser-js';

export const UNKNOWN_DEVICE = 'unknown';
/** User agents are short; a longer header is cut before the parser's regexes see it. */
const MAX_USER_AGENT = 512;
const MAX_DEVICE = 100;

export function describeDevice(userAgent: string | undefined): string {
  if (!userAgent) return UNKNOWN_DEVICE;
  const parser = new UAParser(userAgent.slice(0, MAX_USER_AGENT));
  const { name: browser, major } = parser.getBrowser();
  const { name: system } = parser.getOS();
  const parts = [browser && (major ? `${browser} ${major}` : browser), system].filter(Boolean);
  return parts.length === 0 ? UNKNOWN_DEVICE : parts.join(' on ').slice(0, MAX_DEVICE);
}
