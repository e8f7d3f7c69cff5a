/**
 * Access rules (SPEC section 2): public_paths first, then access_rules, first match
 * wins, default "authenticated". Compiled once at start; `decide` is pure.
 */
import type { AccessRule, Policy } from '../config.js';

export interface Target {
  /** Canonical: lower case, no trailing dot, no port (see hosts.ts). */
  host: string;
  /** Normalised (see paths.ts). */
  path: string;
  method: string;
  /** The method a method-override header names, judged besides `method` (see gate.ts). */
  override: string | undefined;
}

export type Verdict = { policy: 'public' } | { policy: 'deny' } | { policy: 'authenticated'; groups?: ReadonlySet<string> };

interface CompiledRule {
  host?: (host: string) => boolean;
  path?: (path: string) => boolean;
  methods?: ReadonlySet<string>;
  verdict: Verdict;
}

export type RuleMatcher = (target: Target) => Verdict;

const DEFAULT: Verdict = { policy: 'authenticated' };

/** Each verdict's rule as the settings name it (`access_rules[2]`), for the request log; looked up only when a line is written. */
const RULE_NAMES = new WeakMap<Verdict, string>([[DEFAULT, 'default']]);
export const ruleName = (verdict: Verdict): string => RULE_NAMES.get(verdict) ?? 'default';

export function compileRules(publicPaths: readonly string[], rules: readonly AccessRule[]): RuleMatcher {
  const compiled: CompiledRule[] = [
    ...publicPaths.map((path) => ({ path: matchPath(path), verdict: { policy: 'public' as const } })),
    ...rules.map(compileRule),
  ];
  compiled.forEach(({ verdict }, i) => RULE_NAMES.set(verdict, i < publicPaths.length ? `public_paths[${i}]` : `access_rules[${i - publicPaths.length}]`));
  // The host comes canonical, so nothing is done to it per request.
  return (target) => {
    for (const rule of compiled) {
      if (rule.host && !rule.host(target.host)) continue;
      if (rule.path && !rule.path(target.path)) continue;
      if (rule.methods && !rule.methods.has(target.method)) continue;
      return rule.verdict;
    }
    return DEFAULT;
  };
}

function compileRule(rule: AccessRule): CompiledRule {
  return {
    ...(rule.host && { host: matchHost(rule.host) }),
    ...(rule.path && { path: matchPath(rule.path) }),
    ...(rule.methods && { methods: new Set(rule.methods) }),
    verdict: verdictOf(rule.policy, rule.groups),
  };
}

function verdictOf(policy: Policy, groups: readonly string[] | undefined): Verdict {
  if (policy !== 'authenticated') return { policy };
  return groups && groups.length > 0 ? { policy, groups: new Set(groups) } : { policy };
}

function matchHost(pattern: string): (host: string) => boolean {
  if (!pattern.startsWith('*.')) return (host) => host === pattern;
  const suffix = pattern.slice(1);
  return (host) => host.endsWith(suffix) && host.length > suffix.length;
}

/**
 * A path with * or ** is an anchored glob (* within one segment, ** across);
 * otherwise a prefix that matches whole segments: /api matches /api and /api/x, not /apix.
 */
export function matchPath(pattern: string): (path: string) => boolean {
  if (!pattern.includes('*')) {
    const base = pattern.endsWith('/') ? pattern.slice(0, -1) : pattern;
    return (path) => path === base || path.startsWith(`${base}/`) || (base === '' && path.startsWith('/'));
  }
  const source = pattern
    .split(/(\*\*|\*)/)
    .map((part) => (part === '**' ? '.*' : part === '*' ? '[^/]*' : part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')))
    .join('');
  const regex = new RegExp(`^${source}$`);
  return (path) => regex.test(path);
}

/** Whether a signed-in user with `groups` passes an authenticated verdict. */
export function groupsAllow(verdict: Verdict, groups: readonly string[]): boolean {
  return verdict.policy !== 'authenticated' || !verdict.groups || groups.some((group) => verdict.groups!.has(group));
}
