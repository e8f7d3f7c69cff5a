/**
 * The GitHub preset: OAuth 2 and GitHub's user and email APIs, tested against a small
 * stand-in for GitHub (test/helpers/github-fake.ts), the only one the tests have.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log.js';
import { registerUser, startTestGatehouse, type TestGatehouse } from '../helpers/gatehouse.js';
import { startGitHubFake, type GitHubFake, type GitHubUser } from '../helpers/github-fake.js';
import { browse, CookieJar, follow, freePort } from '../helpers/oidc-provider.js';

const SECRET_VARIABLE = 'GATEHOUSE_TEST_GITHUB_SECRET';
const isCallback = (url: string) => url.includes('/_auth/oidc/github/callback');

const octocat: GitHubUser = {
  id: 583231,
  login: 'octocat',
  emails: [
    { email: 'octocat@users.noreply.github.com', primary: false, verified: true },
    { email: 'octo@example.com', primary: true, verified: true },
  ],
};
const unverified: GitHubUser = { id: 99, login: 'newbie', emails: [{ email: 'newbie@example.com', primary: true, verified: false }] };

describe('signing in with GitHub (against a stand-in for GitHub)', () => {
  let github: GitHubFake;
  let gate: TestGatehouse;
  const lines: Record<string, unknown>[] = [];

  beforeAll(async () => {
    github = await startGitHubFake();
    process.env[SECRET_VARIABLE] = github.clientSecret;
    const port = await freePort();
    gate = await startTestGatehouse(
      {
        listen: `127.0.0.1:${port}`,
        public_url: `http://127.0.0.1:${port}`,
        oidc_providers: [
          { id: 'github', preset: 'github', github_url: github.url, github_api_url: github.apiUrl, insecure_http: true, client_id: github.clientId, client_secret_env: SECRET_VARIABLE },
        ],
      },
      { log: createLogger('info', (line) => void lines.push(JSON.parse(line) as Record<string, unknown>)) },
    );
    await registerUser(gate, 'first-admin');
  });
  afterAll(async () => {
    await gate.close();
    await github.close();
  });

  async function signIn(user: GitHubUser, jar = new CookieJar()) {
    github.signInAs(user);
    const start = await browse(jar, `${gate.url}/_auth/oidc/github/start?rd=/welcome`);
    const { url } = await follow(jar, start.headers.get('location')!, isCallback);
    return { res: await browse(jar, url), jar, callback: url };
  }

  const me = async (jar: CookieJar) => (await (await fetch(`${gate.url}/_auth/userinfo`, { headers: { cookie: jar.header(gate.url) } })).json()) as Record<string, unknown>;

  it('asks GitHub for its scopes with PKCE, and no nonce (there is no ID token)', async () => {
    const start = await browse(new CookieJar(), `${gate.url}/_auth/oidc/github/start`);
    const target = new URL(start.headers.get('location')!);
    expect(`${target.origin}${target.pathname}`).toBe(`${github.url}/login/oauth/authorize`);
    expect(target.searchParams.get('scope')).toBe('read:user user:email');
    expect(target.searchParams.get('code_challenge_method')).toBe('S256');
    expect(target.searchParams.get('nonce')).toBeNull();
  });

  it('signs in by the numeric id, with the verified primary address confirmed and the login as username', async () => {
    const { res, jar } = await signIn(octocat);
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/welcome');
    expect(await me(jar)).toMatchObject({ username: 'octocat', email: 'octo@example.com' });
  });

  it('keeps the same account when the GitHub login is renamed (the id is the identity)', async () => {
    const before = await me((await signIn(octocat)).jar);
    const after = await me((await signIn({ ...octocat, login: 'octocat-renamed' })).jar);
    expect(after['id']).toBe(before['id']);
  });

  it('takes no unverified address as confirmed', async () => {
    const { res, jar } = await signIn(unverified);
    expect(res.status).toBe(303);
    expect(await me(jar)).toMatchObject({ username: 'newbie', email: null });
  });

  it('refuses a code GitHub refuses, though GitHub answers that with HTTP 200', async () => {
    const { jar, callback } = await signIn(octocat);
    // The used code again, under a fresh state of this browser: GitHub says bad_verification_code, with 200.
    github.signInAs(octocat);
    const start = await browse(jar, `${gate.url}/_auth/oidc/github/start`);
    const again = new URL((await follow(jar, start.headers.get('location')!, isCallback)).url);
    again.searchParams.set('code', new URL(callback).searchParams.get('code')!);
    const res = await browse(jar, again.href);
    expect(res.status).toBe(400);
    expect(lines.filter((line) => line['event'] === 'oidc_sign_in_refused').at(-1)).toMatchObject({ error: 'oidc_provider_error', reason: expect.stringContaining('invalid_response') });
  });
});
