/**
 * A small stand-in for GitHub, the only one the tests have (GitHub cannot be reached
 * from them): its authorize redirect, its token endpoint (which, like GitHub's,
 * answers a bad code with HTTP 200 and an error body, and JSON only when asked
 * for it), and its user and emails APIs.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { closeServer } from './oidc-provider.js';

export interface GitHubUser {
  id: number;
  login: string;
  emails: { email: string; primary: boolean; verified: boolean }[];
}

export interface GitHubFake {
  url: string;
  apiUrl: string;
  clientId: string;
  clientSecret: string;
  /** Who "signs in" at the next authorize request. */
  signInAs(user: GitHubUser): void;
  close(): Promise<void>;
}

interface Grant {
  user: GitHubUser;
  challenge: string;
  redirectUri: string;
}

export async function startGitHubFake(): Promise<GitHubFake> {
  const clientId = 'Iv1.fake-client';
  const clientSecret = 'fake-github-secret';
  const codes = new Map<string, Grant>();
  const tokens = new Map<string, GitHubUser>();
  let next: GitHubUser | undefined;

  const server = createServer((req, res) => void handle(req, res).catch(() => res.writeHead(500).end()));
  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url!, 'http://github.invalid');
    if (req.method === 'GET' && url.pathname === '/login/oauth/authorize') return authorize(url, res);
    if (req.method === 'POST' && url.pathname === '/login/oauth/access_token') return token(req, res);
    const user = tokens.get((req.headers.authorization ?? '').replace(/^Bearer /, ''));
    if (!user) return void res.writeHead(401, { 'content-type': 'application/json' }).end('{"message":"Bad credentials"}');
    if (url.pathname === '/api/user') return json(res, 200, { id: user.id, login: user.login, type: 'User' });
    if (url.pathname === '/api/user/emails') return json(res, 200, user.emails.map((email) => ({ ...email, visibility: null })));
    res.writeHead(404).end();
  }

  function authorize(url: URL, res: ServerResponse): void {
    const redirect = new URL(url.searchParams.get('redirect_uri')!);
    const code = randomBytes(10).toString('hex');
    codes.set(code, { user: next!, challenge: url.searchParams.get('code_challenge') ?? '', redirectUri: redirect.href });
    redirect.searchParams.set('code', code);
    redirect.searchParams.set('state', url.searchParams.get('state') ?? '');
    res.writeHead(302, { location: redirect.href }).end();
  }

  async function token(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let body = '';
    for await (const chunk of req) body += chunk;
    const form = new URLSearchParams(body);
    const grant = codes.get(form.get('code') ?? '');
    codes.delete(form.get('code') ?? '');
    const verifier = form.get('code_verifier') ?? '';
    const ok =
      grant &&
      form.get('client_id') === clientId &&
      form.get('client_secret') === clientSecret &&
      form.get('redirect_uri') === grant.redirectUri &&
      createHash('sha256').update(verifier).digest('base64url') === grant.challenge;
    const answer: Record<string, string> = ok
      ? { access_token: `gho_${randomBytes(12).toString('hex')}`, token_type: 'bearer', scope: 'read:user,user:email' }
      : { error: 'bad_verification_code', error_description: 'The code passed is incorrect or expired.' };
    if (ok) tokens.set(answer['access_token']!, grant.user);
    // GitHub's way: HTTP 200 either way, and form-encoded unless JSON is asked for.
    if (!(req.headers.accept ?? '').includes('application/json')) return void res.writeHead(200, { 'content-type': 'application/x-www-form-urlencoded' }).end(new URLSearchParams(answer).toString());
    json(res, 200, answer);
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    apiUrl: `${url}/api`,
    clientId,
    clientSecret,
    signInAs: (user) => void (next = user),
    close: () => closeServer(server),
  };
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' }).end(JSON.stringify(body));
}
