/**
 * Where `rd` may lead after sign-in (SPEC section 5): judged on the URL as a
 * browser would resolve it, anything doubtful falls back to "/".
 */
export interface RedirectPolicy {
  publicUrl: string;
  redirectHosts: readonly string[];
}

// Browsers strip tabs and newlines and treat \ as /; refuse instead of guessing.
const SUSPICIOUS = /[\u0000-\u0020\u007f\\]/;

export function safeRedirect(rd: unknown, policy: RedirectPolicy): string {
  if (typeof rd !== 'string' || rd === '' || rd.length > 2048 || SUSPICIOUS.test(rd)) return '/';
  const base = new URL(policy.publicUrl);
  let target: URL;
  try {
    target = new URL(rd, base);
  } catch {
    return '/';
  }
  if (target.username || target.password) return '/';
  if (rd.startsWith('/') && !rd.startsWith('//') && target.origin === base.origin) {
    const path = target.pathname + target.search + target.hash;
    // Dot segments can leave "//host" behind (/.//evil.com): a browser reads that as another site.
    return path.startsWith('//') ? '/' : path;
  }
  const schemeAllowed = target.protocol === base.protocol || target.protocol === 'https:';
  return schemeAllowed && originAllowed(target, base, policy.redirectHosts) ? target.href : '/';
}

/**
 * The port is part of the origin: the scheme's default (URL leaves it empty) or
 * public_url's own is taken as meant; any other only where an entry names it
 * (`app.example.com:8443`), since another port on an allowed host can be another application.
 */
function originAllowed(target: URL, base: URL, patterns: readonly string[]): boolean {
  const usualPort = target.port === '' || target.port === base.port;
  if (usualPort && target.hostname === base.hostname) return true;
  const port = target.port || (target.protocol === 'https:' ? '443' : '80');
  return patterns.some((pattern) => {
    const colon = pattern.lastIndexOf(':');
    const portAllowed = colon === -1 ? usualPort : pattern.slice(colon + 1) === port;
    return portAllowed && hostMatches(target.hostname, colon === -1 ? pattern : pattern.slice(0, colon));
  });
}

function hostMatches(host: string, pattern: string): boolean {
  return pattern.startsWith('*.') ? host.endsWith(pattern.slice(1)) && host.length > pattern.length - 1 : host === pattern;
}
