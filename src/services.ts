/** Builds the long-lived parts of gatehouse from a config and a store. */
import type { Clock } from './clock.js';
import type { Config } from './config.js';
import type { Logger } from './log.js';
import type { Metrics } from './metrics.js';
import { Accounts } from './auth/accounts.js';
import { breachCheck } from './auth/breached.js';
import { OneTimeTokens } from './auth/one-time-tokens.js';
import { Passkeys } from './auth/passkeys.js';
import { SecondFactors } from './auth/second-factors.js';
import { Throttle } from './auth/throttle.js';
import { MailQueue } from './mail/queue.js';
import { createTransport } from './mail/transport.js';
import { createPasswordHasher, type PasswordHasher } from './auth/passwords.js';
import { RevocationList } from './auth/revocations.js';
import { Sessions } from './auth/sessions.js';
import { trustedProxies } from './auth/forwarded.js';
import { strippedHeaders } from './auth/identity-headers.js';
import { compileRules, type RuleMatcher } from './auth/rules.js';
import { VerifiedTokens } from './auth/token-cache.js';
import { AccessTokens, KeyRing } from './auth/tokens.js';
import type { Store } from './store/types.js';
import type { OutgoingHttpHeaders } from 'node:http';
import type { BlockList } from 'node:net';
import { answerHeaders } from './http.js';
import { AuditLog } from './audit.js';
import { People } from './admin/people.js';
import { ProviderClients } from './oidc/client.js';
import { LogoutTokens } from './oidc/logout-token.js';

export interface Services {
  config: Config;
  store: Store;
  clock: Clock;
  log: Logger;
  metrics: Metrics;
  audit: AuditLog;
  /** What administrators do to people (CLI and API alike). */
  people: People;
  keys: KeyRing;
  tokens: AccessTokens;
  verifiedTokens: VerifiedTokens;
  revocations: RevocationList;
  sessions: Sessions;
  passwords: PasswordHasher;
  accounts: Accounts;
  throttle: Throttle;
  oneTimeTokens: OneTimeTokens;
  secondFactors: SecondFactors;
  passkeys: Passkeys;
  mail: MailQueue;
  /** The identity providers of `oidc_providers`, discovered on first use. */
  oidc: ProviderClients;
  oidcLogout: LogoutTokens;
  /** Built once at start: the hot path only calls them. */
  rules: RuleMatcher;
  trusted: BlockList;
  isStripped: (headerName: string) => boolean;
  /** Headers on every answer gatehouse writes itself (security headers, no caching). */
  answerHeaders: OutgoingHttpHeaders;
}

export async function createServices(base: Pick<Services, 'config' | 'store' | 'clock' | 'log' | 'metrics'>): Promise<Services> {
  const { config, store, clock, log, metrics } = base;
  const audit = new AuditLog(log, store, clock, metrics);
  const issuer = new URL(config.public_url).origin;
  const keys = new KeyRing(store, clock, config.trust_window);
  const tokens = new AccessTokens(keys, clock, { issuer, audience: issuer, lifetimeMs: config.trust_window });
  const verifiedTokens = new VerifiedTokens(tokens, clock, metrics);
  const revocations = new RevocationList(store, clock, config.trust_window);
  const limits = { idleTimeoutMs: config.idle_timeout, sessionLifetimeMs: config.session_lifetime, refreshGraceMs: config.refresh_grace };
  const sessions = new Sessions({ store, tokens, revocations, clock, limits, log, metrics, audit });
  const passwords = await createPasswordHasher({ pepper: config.password_pepper });
  const throttle = new Throttle(store, clock, config, audit);
  const oneTimeTokens = new OneTimeTokens(store, clock);
  const isBreached = breachCheck(config.hibp_url, log);
  const accounts = new Accounts({ store, passwords, sessions, throttle, isBreached, clock, log, metrics, audit });
  const secondFactors = new SecondFactors({ store, oneTimeTokens, throttle, clock, audit, config });
  const passkeys = new Passkeys({ store, clock, audit, publicUrl: config.public_url });
  const send = createTransport(config.smtp_url, config.email_from, log);
  const mail = new MailQueue({ store, send, clock, log, metrics, domain: new URL(config.public_url).hostname });
  const rules = compileRules(config.public_paths, config.access_rules);
  const trusted = trustedProxies(config.trusted_proxies);
  const isStripped = strippedHeaders(config.identity_headers, config.strip_headers);
  const people = new People({ store, sessions, revocations, throttle, audit, clock, limits });
  const oidc = new ProviderClients({ providers: config.oidc_providers, publicUrl: config.public_url, clock, log });
  const oidcLogout = new LogoutTokens({ clients: oidc, clock, log });
  return { ...base, answerHeaders: answerHeaders(config), audit, people, oidc, oidcLogout, keys, tokens, verifiedTokens, revocations, sessions, passwords, accounts, throttle, oneTimeTokens, secondFactors, passkeys, mail, rules, trusted, isStripped };
}
