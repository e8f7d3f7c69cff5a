/**
 * Everything that starts with a mail, through a real SMTP server (npm
 * smtp-server on loopback): password reset, magic links, email verification,
 * the limits on asking for them, and a queue that survives an SMTP outage and a
 * restart without losing or repeating a message. SPEC section 7.
 */
import { rmSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Logger } from '../../src/log.js';
import { startGatehouse, type RunningGatehouse } from '../../src/server.js';
import {
  cookieHeader,
  cookiesOf,
  formCsrf,
  PASSWORD,
  postJson,
  startTestGatehouse,
  tempDir,
  testConfig,
  uniqueName,
  type Settings,
  type TestGatehouse,
  type TokenBody,
} from '../helpers/gatehouse.js';
import {
  bearer,
  followByJson,
  liveSessions,
  login,
  MAGIC_SUBJECT,
  mailbox,
  mailTo,
  newAddress,
  newEmail,
  onGate,
  RESET_SUBJECT,
  userinfo,
  VERIFY_SUBJECT,
} from '../helpers/mailbox.js';
import { freePort, linkIn, startSmtpSink, type ReceivedMail, type SmtpSink } from '../helpers/smtp.js';

const MIN = 60_000;
const NEW_PASSWORD = 'a brand new passphrase';

let smtp: SmtpSink;
let gate: TestGatehouse;
beforeAll(async () => {
  smtp = await startSmtpSink();
  // max_retries is high: the wrong-password checks here are not about bans (test/http/lockout.test.ts is).
  gate = await startTestGatehouse({ smtp_url: smtp.url, max_retries: 1000 });
});
afterAll(async () => {
  await gate?.close();
  await smtp?.close();
});

const { received, userWithEmail, confirmedUser, magicLink } = mailbox(
  () => smtp,
  () => gate,
);

describe('password reset by mail', () => {
  it('mails a link that sets a new password and ends every session of the user', async () => {
    const user = await userWithEmail();
    const asked = await postJson(`${gate.url}/_auth/password/forgot`, { email: user.email }, newAddress());
    expect(asked.status).toBe(202);
    expect(await asked.json()).toEqual({ status: 'accepted' });

    const { url, token } = linkIn(await smtp.waitFor(mailTo(user.email, RESET_SUBJECT)), '/_auth/password/reset');
    expect(url).toBe(`http://localhost:4180/_auth/password/reset?token=${token}`);
    const page = await fetch(onGate(gate, url));
    expect(page.status).toBe(200);
    expect(await page.text()).toContain(`name="token" value="${token}"`);

    const reset = await postJson(`${gate.url}/_auth/password/reset`, { token, password: NEW_PASSWORD });
    expect(reset.status).toBe(200);
    expect((await login(gate, user.username, PASSWORD)).status).toBe(401);
    expect((await login(gate, user.username, NEW_PASSWORD)).status).toBe(200);
    expect((await userinfo(gate, bearer(user.access_token))).status).toBe(401);
    expect((await postJson(`${gate.url}/_auth/refresh`, { refresh_token: user.refresh_token })).status).toBe(401);
  });

  it('refuses the same link a second time with 400 invalid_token', async () => {
    const user = await userWithEmail();
    await postJson(`${gate.url}/_auth/password/forgot`, { email: user.email }, newAddress());
    const { token } = linkIn(await smtp.waitFor(mailTo(user.email, RESET_SUBJECT)), '/_auth/password/reset');
    expect((await postJson(`${gate.url}/_auth/password/reset`, { token, password: NEW_PASSWORD })).status).toBe(200);
    const again = await postJson(`${gate.url}/_auth/password/reset`, { token, password: 'yet another passphrase' });
    expect(again.status).toBe(400);
    expect(await again.json()).toMatchObject({ error: 'invalid_token' });
    expect((await login(gate, user.username, NEW_PASSWORD)).status).toBe(200);
  });

  it('lets exactly one of two racing resets with one link win', async () => {
    const user = await userWithEmail();
    await postJson(`${gate.url}/_auth/password/forgot`, { email: user.email }, newAddress());
    const { token } = linkIn(await smtp.waitFor(mailTo(user.email, RESET_SUBJECT)), '/_auth/password/reset');
    const passwords = ['first racing passphrase', 'second racing passphrase'];
    const answers = await Promise.all(passwords.map((password) => postJson(`${gate.url}/_auth/password/reset`, { token, password })));
    expect(answers.map((res) => res.status).sort()).toEqual([200, 400]);
    const winner = passwords[answers.findIndex((res) => res.status === 200)]!;
    const loser = passwords.find((password) => password !== winner)!;
    expect((await login(gate, user.username, winner)).status).toBe(200);
    expect((await login(gate, user.username, loser)).status).toBe(401);
  });
});

describe('no account enumeration', () => {
  it.each([
    ['/_auth/password/forgot', RESET_SUBJECT],
    ['/_auth/magic-link', MAGIC_SUBJECT],
  ])('answers %s for an unknown address exactly as for a known one, and mails only the known one', async (path, subject) => {
    const known = await userWithEmail();
    const unknown = newEmail();
    const address = newAddress();
    const forUnknown = await postJson(`${gate.url}${path}`, { email: unknown }, address);
    const forKnown = await postJson(`${gate.url}${path}`, { email: known.email }, address);
    expect(forUnknown.status).toBe(202);
    expect(forKnown.status).toBe(202);
    expect(await forUnknown.text()).toBe(await forKnown.text());
    await smtp.waitFor(mailTo(known.email, subject));
    await sleep(300);
    expect(smtp.messages.filter((mail) => mail.to.includes(unknown))).toEqual([]);
  });
});

describe('limits on asking for mail', () => {
  it('sends one reset mail per account per two minutes, answering 202 every time', async () => {
    const user = await userWithEmail();
    const address = newAddress();
    const ask = () => postJson(`${gate.url}/_auth/password/forgot`, { email: user.email }, address);
    expect((await ask()).status).toBe(202);
    expect((await ask()).status).toBe(202);
    await smtp.waitFor(mailTo(user.email, RESET_SUBJECT));
    await sleep(500);
    expect(received(user.email, RESET_SUBJECT)).toHaveLength(1);

    gate.clock.advance(2 * MIN + 1_000);
    expect((await ask()).status).toBe(202);
    await smtp.waitForAll(mailTo(user.email, RESET_SUBJECT), 2);
  });

  it('answers the 11th request from one client address within ten minutes with 429', async () => {
    const address = newAddress();
    for (let i = 0; i < 10; i++) {
      expect((await postJson(`${gate.url}/_auth/password/forgot`, { email: newEmail() }, address)).status).toBe(202);
    }
    const flood = await postJson(`${gate.url}/_auth/password/forgot`, { email: newEmail() }, address);
    expect(flood.status).toBe(429);
    expect(await flood.json()).toMatchObject({ error: 'too_many_requests' });
    expect((await postJson(`${gate.url}/_auth/password/forgot`, { email: newEmail() }, newAddress())).status).toBe(202);
  });

  it('counts the magic-link requests of one IPv6 /64 together, whichever of its addresses they come from', async () => {
    const from = (host: number) => ({ 'x-forwarded-for': `2001:db8:77:1::${host.toString(16)}` });
    for (let i = 1; i <= 10; i++) {
      expect((await postJson(`${gate.url}/_auth/magic-link`, { email: newEmail() }, from(i))).status).toBe(202);
    }
    expect((await postJson(`${gate.url}/_auth/magic-link`, { email: newEmail() }, from(0xbeef))).status).toBe(429);
    expect((await postJson(`${gate.url}/_auth/magic-link`, { email: newEmail() }, { 'x-forwarded-for': '2001:db8:77:2::1' })).status).toBe(202);
  });
});

const sessionCookieOf = (res: Response) => cookiesOf(res)['gatehouse_session'];

/** Opens a magic link as a browser does: the page, then its button (a form post with the page's CSRF token). */
async function followInBrowser(on: { url: string }, url: string, { csrf = true } = {}) {
  const { cookie, token: csrfToken } = await formCsrf(on, url.slice('http://localhost:4180'.length));
  const token = new URL(url).searchParams.get('token')!;
  return fetch(`${on.url}/_auth/magic-link/verify`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie },
    body: new URLSearchParams({ ...(csrf && { csrf: csrfToken }), token }),
    redirect: 'manual',
  });
}

describe('magic links', () => {
  it('shows a page with one button on GET and HEAD, using nothing up and setting no cookie but the form’s CSRF one', async () => {
    const user = await userWithEmail();
    const { url, token } = await magicLink(user.email, gate, { rd: '/after' });
    const before = await liveSessions(gate, user.username);
    for (const method of ['GET', 'HEAD', 'GET']) {
      const res = await fetch(onGate(gate, url), { method, redirect: 'manual' });
      expect(res.status, method).toBe(200);
      // Only the form's CSRF cookie, which the button needs: no session, no pending second factor.
      expect(Object.keys(cookiesOf(res)).filter((name) => name !== 'gatehouse_csrf'), method).toEqual([]);
      if (method === 'GET') {
        const html = await res.text();
        expect(html).toContain('<form method="post" action="/_auth/magic-link/verify">');
        expect(html).toContain(`name="token" value="${token}"`);
        expect(html.match(/<button/g)).toHaveLength(1);
      }
    }
    expect(await liveSessions(gate, user.username)).toBe(before);

    const signedIn = await followInBrowser(gate, url);
    expect(signedIn.status).toBe(303);
    expect(signedIn.headers.get('location')).toBe('/after');
    const me = await userinfo(gate, { cookie: cookieHeader({ gatehouse_session: sessionCookieOf(signedIn)! }) });
    expect(await me.json()).toMatchObject({ username: user.username, email: user.email, email_verified: true });
  });

  it('refuses the button without the CSRF token with 403, and the link still works afterwards', async () => {
    const user = await userWithEmail();
    const { url } = await magicLink(user.email);
    const forged = await followInBrowser(gate, url, { csrf: false });
    expect(forged.status).toBe(403);
    expect(sessionCookieOf(forged)).toBeUndefined();
    expect((await followInBrowser(gate, url)).status).toBe(303);

    const replayed = await followInBrowser(gate, url);
    expect(replayed.status).toBe(400);
    expect(replayed.headers.get('content-type')).toContain('text/html');
    expect(await replayed.text()).not.toContain('<form');
    expect(sessionCookieOf(replayed)).toBeUndefined();
  });

  it('answers a JSON POST {"token"} with the token body, and the same token again with 400 invalid_token', async () => {
    const user = await userWithEmail();
    const { token } = await magicLink(user.email);
    const res = await followByJson(gate, token);
    expect(res.status).toBe(200);
    const body = (await res.json()) as TokenBody;
    expect(body).toMatchObject({ token_type: 'Bearer', access_token: expect.any(String), refresh_token: expect.any(String) });
    expect((await userinfo(gate, bearer(body.access_token))).status).toBe(200);

    const again = await followByJson(gate, token);
    expect(again.status).toBe(400);
    expect(await again.json()).toMatchObject({ error: 'invalid_token' });
    expect(sessionCookieOf(again)).toBeUndefined();
  });

  it('signs in exactly once when one link is posted twice at the same moment', async () => {
    const user = await confirmedUser();
    const { token } = await magicLink(user.email);
    const before = await liveSessions(gate, user.username);
    const answers = await Promise.all([followByJson(gate, token), followByJson(gate, token)]);
    expect(answers.map((res) => res.status).sort()).toEqual([200, 400]);
    expect(await liveSessions(gate, user.username)).toBe(before + 1);
  });

  it.each([
    ['a number', { token: 12345 }, 'invalid_field'],
    ['an array', { token: ['a', 'b'] }, 'invalid_field'],
    ['an object', { token: { $ne: null } }, 'invalid_field'],
    ['no token', {}, 'missing_field'],
    ['a huge token', { token: 'A'.repeat(60_000) }, 'invalid_field'],
    ['a token of the right length that was never issued', { token: 'A'.repeat(43) }, 'invalid_token'],
  ])('refuses %s with a 400 and a stable code', async (_what, body, code) => {
    const res = await postJson(`${gate.url}/_auth/magic-link/verify`, body);
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: code });
  });

  it.each([
    ['no token', ''],
    ['markup', `?token=${encodeURIComponent('"><script>alert(1)</script>')}`],
    ['a huge token', `?token=${'A'.repeat(8_000)}`],
  ])('answers the page with %s with 400 and no form', async (_what, query) => {
    const res = await fetch(`${gate.url}/_auth/magic-link/verify${query}`);
    expect(res.status).toBe(400);
    const html = await res.text();
    expect(html).not.toContain('<form');
    expect(html).not.toContain('<script>');
  });
});

describe('email verification', () => {
  it('mails a confirmation link on registration that confirms the address once', async () => {
    const user = await userWithEmail();
    const { url } = linkIn(await smtp.waitFor(mailTo(user.email, VERIFY_SUBJECT)), '/_auth/email/verify');
    const confirmed = await fetch(onGate(gate, url), { headers: { accept: 'application/json' } });
    expect(confirmed.status).toBe(200);
    expect(await confirmed.json()).toEqual({ status: 'verified', email: user.email });
    expect((await fetch(onGate(gate, url))).status).toBe(400);
  });

  describe('with require_verified_email', () => {
    let strict: TestGatehouse;
    beforeAll(async () => {
      strict = await startTestGatehouse({ smtp_url: smtp.url, require_verified_email: true });
    });
    afterAll(() => strict?.close());

    it('registers without tokens and refuses sign-in with 403 until the link is followed', async () => {
      const username = uniqueName();
      const email = newEmail();
      const registered = await postJson(`${strict.url}/_auth/register`, { username, email, password: PASSWORD });
      expect(registered.status).toBe(201);
      expect(await registered.json()).toEqual({ verification_required: true });
      expect(registered.headers.getSetCookie().filter((line) => line.startsWith('gatehouse_session='))).toEqual([]);

      const early = await login(strict, username, PASSWORD);
      expect(early.status).toBe(403);
      expect(await early.json()).toMatchObject({ error: 'email_not_verified' });

      const { url } = linkIn(await smtp.waitFor(mailTo(email, VERIFY_SUBJECT)), '/_auth/email/verify');
      const page = await fetch(onGate(strict, url));
      expect(page.status).toBe(200);
      expect(await page.text()).toContain(`${email} is confirmed`);

      const later = await login(strict, username, PASSWORD);
      expect(later.status).toBe(200);
      expect(await later.json()).toMatchObject({ token_type: 'Bearer' });
    });
  });
});

/**
 * The queue measures its backoff on gatehouse's clock, so these gatehouses run on
 * the system clock: a test clock that never moves would never make a retry due.
 */
interface RealTimeGatehouse extends RunningGatehouse {
  url: string;
  managementUrl: string;
  /** The names of the warn and error events logged so far, with their fields. */
  events: { event: string; fields: Record<string, unknown> }[];
}

async function startOnSystemClock(settings: Settings, dir: string): Promise<RealTimeGatehouse> {
  const events: RealTimeGatehouse['events'] = [];
  const keep = (event: string, fields: Record<string, unknown> = {}) => void events.push({ event, fields });
  const log: Logger = { debug: () => {}, info: () => {}, warn: keep, error: keep };
  const running = await startGatehouse(testConfig(settings, dir), { log });
  return { ...running, url: `http://${running.address}`, managementUrl: `http://${running.managementAddress}`, events };
}

/** An account created the way `gatehouse user add NAME --email E` does: no verification mail in the queue. */
async function addUser(on: RunningGatehouse) {
  const email = newEmail();
  await on.services.accounts.register({ username: uniqueName(), email, password: PASSWORD });
  return email;
}

async function eventually(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

const failedSends = (on: RealTimeGatehouse) => new Set(on.events.filter((e) => e.event === 'mail_retry').map((e) => e.fields['id'])).size;

describe('the mail queue', () => {
  it('delivers every mail exactly once after the SMTP server comes up late', { timeout: 60_000 }, async () => {
    const port = await freePort();
    const dir = tempDir();
    const down = await startOnSystemClock({ smtp_url: `smtp://127.0.0.1:${port}` }, dir);
    let sink: SmtpSink | undefined;
    try {
      const emails = [await addUser(down), await addUser(down), await addUser(down)];
      for (const email of emails) {
        expect((await postJson(`${down.url}/_auth/password/forgot`, { email }, newAddress())).status).toBe(202);
      }
      // Every mail has met the outage at least once before the server appears.
      await eventually(() => failedSends(down) === 3, 15_000, 'three failed sends');

      sink = await startSmtpSink(port);
      const isReset = (mail: ReceivedMail) => mail.subject === RESET_SUBJECT;
      await sink.waitForAll(isReset, 3, 25_000);
      await sleep(2_500);
      expect(sink.messages.flatMap((mail) => mail.to).sort()).toEqual([...emails].sort());
      expect(new Set(sink.messages.map((mail) => mail.messageId)).size).toBe(3);

      const metrics = await (await fetch(`${down.managementUrl}/metrics`)).text();
      expect(metrics).toMatch(/^gatehouse_mail_sent_total 3$/m);
    } finally {
      await down.close();
      await sink?.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('sends, once, a mail whose claimer died in the middle of sending it, when the claim is 30 s old', async () => {
    const store = gate.services.store;
    await store.enqueueMail({ recipient: 'orphan@example.com', subject: 'Left behind', text: 't', html: '<p>t</p>', now: gate.clock.now() });
    // Another replica claims it and dies before it is sent: nothing happens while the claim is fresh.
    expect(await store.claimMail(gate.clock.now(), gate.clock.now() - 30_000)).toMatchObject({ recipient: 'orphan@example.com' });
    gate.services.mail.kick();
    await sleep(500);
    expect(smtp.messages.filter((mail) => mail.subject === 'Left behind')).toHaveLength(0);

    gate.clock.advance(30_001);
    gate.services.mail.kick();
    await smtp.waitFor((mail) => mail.subject === 'Left behind', 10_000);
    gate.services.mail.kick();
    await sleep(500);
    expect(smtp.messages.filter((mail) => mail.subject === 'Left behind')).toHaveLength(1);
  });

  it('sends a mail queued before a restart exactly once, from the next process', { timeout: 60_000 }, async () => {
    const port = await freePort();
    const dir = tempDir();
    const settings = { smtp_url: `smtp://127.0.0.1:${port}` };
    let first: RealTimeGatehouse | undefined = await startOnSystemClock(settings, dir);
    let second: RealTimeGatehouse | undefined;
    let sink: SmtpSink | undefined;
    try {
      const email = await addUser(first);
      expect((await postJson(`${first.url}/_auth/password/forgot`, { email }, newAddress())).status).toBe(202);
      await eventually(() => failedSends(first!) === 1, 10_000, 'a failed send');
      await first.close();
      first = undefined;

      sink = await startSmtpSink(port);
      second = await startOnSystemClock(settings, dir);
      const mail = await sink.waitFor(mailTo(email, RESET_SUBJECT), 25_000);
      linkIn(mail, '/_auth/password/reset');
      await sleep(2_500);
      expect(sink.messages).toHaveLength(1);
    } finally {
      await first?.close();
      await second?.close();
      await sink?.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
