/**
 * What tests of mailed links share: fresh addresses, finding a mail in the SMTP
 * sink, and following its link on the gatehouse under test.
 */
import { expect } from 'vitest';
import { postJson, registerUser, uniqueName, type TestGatehouse } from './gatehouse.js';
import { linkIn, type ReceivedMail, type SmtpSink } from './smtp.js';

export const RESET_SUBJECT = 'Reset your password';
export const MAGIC_SUBJECT = 'Your sign-in link';
export const VERIFY_SUBJECT = 'Confirm your email address';

export const newEmail = () => `${uniqueName('mail')}@example.com`;
/** Each test asks from its own client address (trusted loopback proxy + X-Forwarded-For), so per-address limits stay apart. */
let lastOctet = 0;
export const newAddress = () => ({ 'x-forwarded-for': `203.0.113.${++lastOctet}` });

export const mailTo = (email: string, subject: string) => (mail: ReceivedMail) => mail.to.includes(email) && mail.subject === subject;
/** Follows a link from a mail on the gatehouse under test (the mail names public_url, http://localhost:4180). */
export const onGate = (on: { url: string }, link: string) => link.replace('http://localhost:4180', on.url);

export const login = (on: { url: string }, username: string, password: string) => postJson(`${on.url}/_auth/login`, { username, password });
export const userinfo = (on: { url: string }, headers: Record<string, string>) => fetch(`${on.url}/_auth/userinfo`, { headers });
export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
export const followByJson = (on: { url: string }, token: unknown) => postJson(`${on.url}/_auth/magic-link/verify`, { token });
export const liveSessions = async (on: TestGatehouse, username: string) =>
  (await on.services.store.listUserSessions((await on.services.store.findUserByLogin(username))!.id)).length;

/** Users and links through the sink and the gatehouse a test file starts (read when used: both start in beforeAll). */
export function mailbox(sink: () => SmtpSink, gate: () => { url: string }) {
  const received = (email: string, subject: string) => sink().messages.filter(mailTo(email, subject));

  async function userWithEmail(on = gate()) {
    const email = newEmail();
    return { ...(await registerUser(on, uniqueName(), { email })), email };
  }

  /** A user who followed the confirmation link of the registration. */
  async function confirmedUser(on = gate()) {
    const user = await userWithEmail(on);
    const { url } = linkIn(await sink().waitFor(mailTo(user.email, VERIFY_SUBJECT)), '/_auth/email/verify');
    expect((await fetch(onGate(on, url))).status).toBe(200);
    return user;
  }

  /** Asks for a magic link from a fresh client address and returns the link of the `nth` mail to `email` with it. */
  async function magicLink(email: string, on = gate(), body: Record<string, unknown> = {}, nth = 1) {
    expect((await postJson(`${on.url}/_auth/magic-link`, { email, ...body }, newAddress())).status).toBe(202);
    const mails = await sink().waitForAll(mailTo(email, MAGIC_SUBJECT), nth);
    return linkIn(mails[nth - 1]!, '/_auth/magic-link/verify');
  }

  return { received, userWithEmail, confirmedUser, magicLink };
}
