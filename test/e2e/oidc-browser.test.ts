/**
 * Signing in with another identity provider in Chromium: gatehouse in front of an app,
 * a real OpenID provider (oidc-provider) with its login and consent pages.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { chromiumPeer, launchChromium } from '../helpers/browser.js';
import { registerUser, startTestGatehouse, type TestGatehouse } from '../helpers/gatehouse.js';
import { freePort, startTestIdp, type TestIdp } from '../helpers/oidc-provider.js';
import { startEchoUpstream, type EchoUpstream } from '../helpers/upstream.js';

const chromium = chromiumPeer();
const SECRET_VARIABLE = 'GATEHOUSE_TEST_BROWSER_IDP_SECRET';

describe.runIf(chromium.available)('signing in with a provider in Chromium', () => {
  let upstream: EchoUpstream;
  let idp: TestIdp;
  let gate: TestGatehouse;
  let browser: Browser;
  let origin: string;

  beforeAll(async () => {
    upstream = await startEchoUpstream();
    const port = await freePort();
    // A name, not an address, as a browser user would have; the provider stays on 127.0.0.1 (another site).
    origin = `http://localhost:${port}`;
    idp = await startTestIdp({
      gatehouseUrl: origin,
      accounts: { alice: { email: 'alice@example.com', email_verified: true, preferred_username: 'alice', groups: ['staff'] } },
    });
    process.env[SECRET_VARIABLE] = idp.clientSecret;
    gate = await startTestGatehouse({
      listen: `127.0.0.1:${port}`,
      public_url: origin,
      upstream: upstream.url,
      oidc_providers: [
        { id: 'idp', name: 'Example ID', issuer: idp.issuer, insecure_http: true, client_id: idp.clientId, client_secret_env: SECRET_VARIABLE, groups_claim: 'groups' },
      ],
    });
    await registerUser(gate, 'first-admin');
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await gate?.close();
    await idp?.close();
    await upstream?.close();
  });

  const upstreamSaw = async (page: Page) => JSON.parse((await page.locator('body').innerText()).trim()) as { url: string; headers: Record<string, string> };

  /** At the provider: its login form, then its consent page when it asks; back at gatehouse afterwards. */
  async function passProvider(page: Page): Promise<void> {
    await page.locator('input[name="login"]').fill('alice');
    await page.locator('input[name="password"]').fill('any');
    await page.getByRole('button', { name: 'Sign-in' }).click();
    const consent = page.getByRole('button', { name: 'Continue' });
    const back = page.waitForURL((url) => url.origin === origin, { waitUntil: 'commit' });
    // No consent page when the provider has it already: the wait for its button is then simply dropped.
    await Promise.race([back, consent.waitFor().then(() => consent.click(), () => {})]);
    await back;
  }

  it('takes a stranger from the app through the provider and back to the page they asked for, signed in', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${origin}/app/dashboard?tab=2`);
    expect(new URL(page.url()).pathname).toBe('/_auth/login');
    await page.getByRole('link', { name: 'Sign in with Example ID' }).click();
    await page.waitForURL((url) => url.origin === idp.issuer, { waitUntil: 'commit' });
    await passProvider(page);
    await page.waitForURL(`${origin}/app/dashboard?tab=2`);
    const seen = await upstreamSaw(page);
    expect(seen.headers['x-auth-user']).toBe('alice');
    expect(seen.headers['x-auth-email']).toBe('alice@example.com');
    expect(seen.headers['x-auth-groups']).toBe('staff');
    const names = (await context.cookies()).map((cookie) => cookie.name);
    expect(names).toContain('gatehouse_session');
    expect(names.filter((name) => name.startsWith('gatehouse_oidc_'))).toEqual([]);
    await context.close();
  });

  it('finishes two sign-ins started side by side in two tabs', async () => {
    const context = await browser.newContext();
    const [first, second] = [await context.newPage(), await context.newPage()];
    for (const [page, path] of [[first, '/app/one'], [second, '/app/two']] as const) {
      await page.goto(`${origin}${path}`);
      await page.getByRole('link', { name: 'Sign in with Example ID' }).click();
      await page.waitForURL((url) => url.origin === idp.issuer, { waitUntil: 'commit' });
    }
    await passProvider(second);
    await second.waitForURL(`${origin}/app/two`);
    await passProvider(first);
    await first.waitForURL(`${origin}/app/one`);
    expect((await upstreamSaw(first)).headers['x-auth-user']).toBe('alice');
    await context.close();
  });
});
