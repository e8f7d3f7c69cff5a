/** The login and registration pages in a real browser, in front of an application that knows nothing about login. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { PASSWORD, registerUser, startTestGatehouse, uniqueName, type TestGatehouse } from '../helpers/gatehouse.js';
import { chromiumPeer, launchChromium } from '../helpers/browser.js';
import { startEchoUpstream, type EchoUpstream } from '../helpers/upstream.js';

const chromium = chromiumPeer();

describe.runIf(chromium.available)('in Chromium', () => {
  let upstream: EchoUpstream;
  let gate: TestGatehouse;
  let browser: Browser;
  let origin: string;

  beforeAll(async () => {
    upstream = await startEchoUpstream();
    gate = await startTestGatehouse({ upstream: upstream.url });
    // rpID-style rules and cookies want a name, not an address.
    origin = `http://localhost:${new URL(gate.url).port}`;
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await gate?.close();
    await upstream?.close();
  });

  const upstreamSaw = async (page: import('playwright-core').Page) =>
    JSON.parse((await page.locator('body').innerText()).trim()) as { url: string; headers: Record<string, string> };

  it('sends a stranger to the login page and back to the page they asked for, signed in', async () => {
    const { username } = await registerUser(gate);
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${origin}/app/dashboard?tab=2`);
    expect(new URL(page.url()).pathname).toBe('/_auth/login');
    expect(await page.getByRole('heading', { name: 'Sign in' }).isVisible()).toBe(true);
    await page.getByLabel('Username or email').fill(username);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.waitForURL(`${origin}/app/dashboard?tab=2`);
    const seen = await upstreamSaw(page);
    expect(seen.url).toBe('/app/dashboard?tab=2');
    expect(seen.headers['x-auth-user']).toBe(username);
    const cookies = await context.cookies();
    const session = cookies.find((cookie) => cookie.name === 'gatehouse_session');
    expect(session).toMatchObject({ httpOnly: true, sameSite: 'Lax' });
    await context.close();
  });

  it('shows a wrong password in place and keeps the page to return to', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${origin}/app/reports`);
    await page.getByLabel('Username or email').fill('nobody');
    await page.getByLabel('Password').fill('not the password');
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await waitVisible(page.getByRole('alert'));
    expect(await page.getByRole('alert').innerText()).toContain('wrong');
    expect(await page.locator('input[name="rd"]').inputValue()).toBe('/app/reports');
    await context.close();
  });

  it('registers a new account from the login page and lands on the original page', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${origin}/app/welcome`);
    await page.getByRole('link', { name: 'Create an account' }).click();
    const username = uniqueName('new');
    await page.getByLabel('Username').fill(username);
    await page.getByLabel('Email').fill(`${username}@example.com`);
    await page.getByLabel(/^Password/).fill(PASSWORD);
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.waitForURL(`${origin}/app/welcome`);
    const seen = await upstreamSaw(page);
    expect(seen.headers['x-auth-user']).toBe(username);
    // Not confirmed yet (nobody followed the mailed link): the app must not take it for the user's address.
    expect(seen.headers['x-auth-email']).toBe('');
    await context.close();
  });

  it('signs in by a magic link only when its page’s button is pressed', async () => {
    const { username } = await registerUser(gate);
    const user = (await gate.services.store.findUserByLogin(username))!;
    const token = await gate.services.oneTimeTokens.issue('magic_link', user.id, '/app/from-mail', 15 * 60_000);
    const context = await browser.newContext();
    const page = await context.newPage();
    const violations: string[] = [];
    page.on('console', (message) => message.text().includes('Content Security Policy') && violations.push(message.text()));
    await page.goto(`${origin}/_auth/magic-link/verify?token=${token}`);
    expect((await context.cookies()).map((cookie) => cookie.name)).not.toContain('gatehouse_session');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(`${origin}/app/from-mail`);
    expect((await upstreamSaw(page)).headers['x-auth-user']).toBe(username);
    expect(violations).toEqual([]);
    await context.close();
  });

  it('loads the pages without a single Content-Security-Policy violation', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const violations: string[] = [];
    page.on('console', (message) => message.text().includes('Content Security Policy') && violations.push(message.text()));
    await page.goto(`${origin}/_auth/login`);
    await page.goto(`${origin}/_auth/register`);
    expect(violations).toEqual([]);
    // The inline style applied: the button is not the browser's default grey.
    const background = await page.getByRole('button').evaluate((el) => getComputedStyle(el).backgroundColor);
    expect(background).toBe('rgb(53, 99, 233)');
    await context.close();
  });
});

async function waitVisible(locator: import('playwright-core').Locator): Promise<void> {
  await locator.waitFor({ state: 'visible', timeout: 5000 });
}
