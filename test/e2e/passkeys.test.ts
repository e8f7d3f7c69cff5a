/**
 * Passkeys in Chromium with a CDP virtual authenticator, the whole way through
 * gatehouse's own pages: add one on the account page, sign in with it without a
 * username, and use it as the second step after a password.
 */
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { PASSWORD, registerUser, startTestGatehouse, type TestGatehouse } from '../helpers/gatehouse.js';
import { chromiumPeer, launchChromium } from '../helpers/browser.js';

const chromium = chromiumPeer();

/** A port known before gatehouse starts: public_url (the WebAuthn origin) must name it. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** A page with a virtual platform authenticator; without `userVerification`, one that tests presence only (UV=0). */
async function withAuthenticator(context: BrowserContext, { userVerification = true } = {}): Promise<Page> {
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      transport: 'internal',
      hasResidentKey: true,
      hasUserVerification: userVerification,
      isUserVerified: userVerification,
      automaticPresenceSimulation: true,
    },
  });
  return page;
}

describe.runIf(chromium.available)('passkeys in Chromium', () => {
  let gate: TestGatehouse;
  let browser: Browser;
  let origin: string;

  beforeAll(async () => {
    const port = await freePort();
    origin = `http://localhost:${port}`;
    gate = await startTestGatehouse({ listen: `127.0.0.1:${port}`, public_url: origin });
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await gate?.close();
  });

  async function signInWithPassword(page: Page, username: string) {
    await page.goto(`${origin}/_auth/login?rd=/_auth/account`);
    await page.getByLabel('Username or email').fill(username);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  }

  it('adds a passkey on the account page, then signs in with it without a username, and needs it after a password', async () => {
    const { username } = await registerUser(gate);
    const context = await browser.newContext();
    const page = await withAuthenticator(context);
    page.on('dialog', (dialog) => void dialog.accept('Laptop'));

    await signInWithPassword(page, username);
    await page.waitForURL(`${origin}/_auth/account`);
    await page.getByRole('button', { name: 'Add a passkey' }).click();
    await page.getByText('Laptop').waitFor();
    const user = (await gate.services.store.findUserByLogin(username))!;
    const [credential] = await gate.services.store.listCredentials(user.id);
    expect(credential).toMatchObject({ name: 'Laptop', userId: user.id });

    // Sign out, then sign in with the passkey alone: no username typed.
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(/\/_auth\/login/);
    await page.goto(`${origin}/_auth/login?rd=/_auth/account`);
    const assertion = page.waitForRequest((req) => req.url().endsWith('/_auth/webauthn/login/verify'));
    await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
    await page.waitForURL(`${origin}/_auth/account`);
    // Replaying the very same assertion fails: its challenge was single use.
    const replay = await fetch(`${origin}/_auth/webauthn/login/verify`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: (await assertion).postData()!,
    });
    expect(replay.status).toBe(401);
    expect(await replay.json()).toMatchObject({ error: 'passkey_refused' });
    expect(await page.getByText(`Username: ${username}`).isVisible()).toBe(true);
    const used = (await gate.services.store.findCredential(credential!.id))!;
    expect(used.lastUsedAt).not.toBeNull();

    // A password now needs the passkey as its second step.
    await context.clearCookies();
    await signInWithPassword(page, username);
    await page.waitForURL(`${origin}/_auth/mfa`);
    const pendingCookies = await context.cookies();
    expect(pendingCookies.some((c) => c.name === 'gatehouse_session')).toBe(false);
    await page.getByRole('button', { name: 'Use a passkey' }).click();
    await page.waitForURL(`${origin}/_auth/account`);
    expect((await context.cookies()).some((c) => c.name === 'gatehouse_session')).toBe(true);
    await context.close();
  });

  it('refuses a username-less sign-in with a passkey that did not verify the user (UV=0), and takes it as the second step after a password', async () => {
    const { username } = await registerUser(gate);
    const context = await browser.newContext();
    const page = await withAuthenticator(context, { userVerification: false });
    page.on('dialog', (dialog) => void dialog.accept('Security key'));
    await signInWithPassword(page, username);
    await page.waitForURL(`${origin}/_auth/account`);
    await page.getByRole('button', { name: 'Add a passkey' }).click();
    await page.getByText('Security key').waitFor();
    await context.clearCookies();
    const user = (await gate.services.store.findUserByLogin(username))!;
    const [credential] = await gate.services.store.listCredentials(user.id);

    // A client that ignores the options (userVerification 'required', any passkey) and gets an assertion with UV=0.
    await page.goto(`${origin}/_auth/login`);
    // A string, not a function: the test runner would rewrite the import() in a function's source.
    const answer = (await page.evaluate(`(async () => {
      const post = async (path, body) => {
        const res = await fetch(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
        return { status: res.status, body: await res.json() };
      };
      const { startAuthentication } = await import('/_auth/assets/webauthn/index.js');
      const options = (await post('/_auth/webauthn/login/options', {})).body;
      const allowCredentials = [{ id: ${JSON.stringify(credential!.id)}, type: 'public-key' }];
      const response = await startAuthentication({ optionsJSON: { ...options, allowCredentials, userVerification: 'discouraged' } });
      return { asked: options.userVerification, verify: await post('/_auth/webauthn/login/verify', { response }) };
    })()`)) as { asked: string; verify: { status: number; body: unknown } };
    expect(answer.verify).toMatchObject({ status: 401, body: { error: 'user_verification_required' } });
    expect(answer.asked).toBe('required');
    expect((await context.cookies()).some((c) => c.name === 'gatehouse_session')).toBe(false);

    // After the password, presence is enough.
    await signInWithPassword(page, username);
    await page.waitForURL(`${origin}/_auth/mfa`);
    await page.getByRole('button', { name: 'Use a passkey' }).click();
    await page.waitForURL(`${origin}/_auth/account`);
    expect((await context.cookies()).some((c) => c.name === 'gatehouse_session')).toBe(true);
    await context.close();
  });

  it('renames and removes a passkey on the account page', async () => {
    const { username } = await registerUser(gate);
    const context = await browser.newContext();
    const page = await withAuthenticator(context);
    const answers = ['Phone', 'Work phone'];
    page.on('dialog', (dialog) => void dialog.accept(answers.shift()));
    await signInWithPassword(page, username);
    await page.waitForURL(`${origin}/_auth/account`);
    await page.getByRole('button', { name: 'Add a passkey' }).click();
    await page.getByText('Phone').waitFor();
    await page.getByRole('button', { name: 'Rename' }).click();
    await page.getByText('Work phone').waitFor();
    await page.getByRole('button', { name: 'Remove' }).click();
    await page.getByText('No passkeys yet.').waitFor();
    const user = (await gate.services.store.findUserByLogin(username))!;
    expect(await gate.services.store.listCredentials(user.id)).toEqual([]);
    await context.close();
  });
});
