/** The admin page (SPEC section 11) driven in a real browser, as an administrator runs a team with it. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { PASSWORD, registerUser, startTestGatehouse, type TestGatehouse } from '../helpers/gatehouse.js';
import { chromiumPeer, launchChromium } from '../helpers/browser.js';

const chromium = chromiumPeer();

describe.runIf(chromium.available)('the admin page in Chromium', () => {
  let gate: TestGatehouse;
  let browser: Browser;
  let origin: string;

  beforeAll(async () => {
    gate = await startTestGatehouse();
    origin = `http://localhost:${new URL(gate.url).port}`;
    browser = await launchChromium();
    await registerUser(gate, 'chief');
    await registerUser(gate, 'dana');
  });
  afterAll(async () => {
    await browser?.close();
    await gate?.close();
  });

  async function signedInAs(username: string): Promise<Page> {
    const page = await (await browser.newContext()).newPage();
    await page.goto(`${origin}/_auth/admin`);
    await page.getByLabel('Username or email').fill(username);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.waitForURL(`${origin}/_auth/admin`);
    return page;
  }

  const notice = async (page: Page) => page.getByRole('status').first().innerText();

  it('finds a person, changes their groups, ends their sessions, disables and enables them, with no script on the page', async () => {
    const page = await signedInAs('chief');
    expect(await page.locator('script').count()).toBe(0);
    await page.getByLabel('Find people').fill('dan');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByRole('link', { name: 'dana' }).click();
    expect(await page.getByRole('heading', { name: 'dana' }).isVisible()).toBe(true);

    await page.getByLabel('Group', { exact: true }).last().fill('ops');
    await page.getByRole('button', { name: 'Add to group' }).click();
    expect(await notice(page)).toBe('Added to the group.');
    const dana = () => gate.services.store.findUserByLogin('dana');
    expect((await dana())!.groups).toContain('ops');

    await page.getByRole('button', { name: 'Remove from ops' }).click();
    expect(await notice(page)).toBe('Removed from the group.');
    expect((await dana())!.groups).not.toContain('ops');

    expect(await page.getByRole('button', { name: 'End', exact: true }).count()).toBe(1);
    await page.getByRole('button', { name: 'End every session' }).click();
    expect(await notice(page)).toBe('Every session has ended.');
    expect(await gate.services.store.listUserSessions((await dana())!.id)).toEqual([]);

    await page.getByRole('button', { name: 'Disable (ends every session)' }).click();
    expect(await notice(page)).toBe('Disabled; every session has ended.');
    expect((await dana())!.disabled).toBe(true);
    await page.getByRole('button', { name: 'Enable' }).click();
    expect((await dana())!.disabled).toBe(false);
  });

  it('makes an invite whose link registers someone into its groups', async () => {
    const page = await signedInAs('chief');
    await page.getByLabel('Groups (comma-separated, optional)').last().fill('staff');
    await page.getByRole('button', { name: 'Make an invite link' }).click();
    const link = await page.locator('#made-link').innerText();
    expect(link).toContain('/_auth/register?invite=');

    const invitee = await (await browser.newContext()).newPage();
    await invitee.goto(link.replace(new URL(link).origin, origin));
    await invitee.getByLabel('Username').fill('ines');
    await invitee.getByLabel(/^Password/).fill(PASSWORD);
    await invitee.getByRole('button', { name: 'Create account' }).click();
    await invitee.waitForLoadState();
    expect((await gate.services.store.findUserByLogin('ines'))!.groups).toEqual(['staff']);
  });

  it('deletes a person only with the box ticked', async () => {
    await registerUser(gate, 'temp');
    const page = await signedInAs('chief');
    await page.getByLabel('Find people').fill('temp');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByRole('link', { name: 'temp' }).click();
    await page.getByLabel('Delete temp for good').check();
    await page.getByRole('button', { name: 'Delete this account' }).click();
    expect(await notice(page)).toBe('The account is deleted.');
    expect(await gate.services.store.findUserByLogin('temp')).toBeUndefined();
  });

  it('shows a member who is not an administrator the 403 page with a way to switch account', async () => {
    const page = await (await browser.newContext()).newPage();
    await page.goto(`${origin}/_auth/admin`);
    await page.getByLabel('Username or email').fill('dana');
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.waitForURL(`${origin}/_auth/admin`);
    expect(await page.getByText('You are signed in as dana').isVisible()).toBe(true);
    await page.getByRole('button', { name: 'Sign out and switch account' }).click();
    await page.waitForURL(/\/_auth\/login/);
    expect(await page.getByRole('heading', { name: 'Sign in' }).isVisible()).toBe(true);
  });
});
