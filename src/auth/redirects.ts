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
  return schemeAllowed && hostAllowed(target.hostname, base.hostname, policy.redirectHosts) ? target.href : '/';
}

function hostAllowed(host: string, ownHost: string, patterns: readonly string[]): boolean {
  if (host === ownHost) return true;
  return patterns.some((pattern) => (pattern.startsWith('*.') ? host.endsWith(pattern.slice(1)) && host.length > pattern.length - 1 : host === pattern));
}
