/** The mails gatehouse sends, as plain text and HTML; links are built from public_url. */
import { escapeHtml } from '../escape.js';
import type { Mail } from './queue.js';

function message(to: string, subject: string, intro: string, action: string, link: string, outro: string): Mail {
  return {
    to,
    subject,
    text: `${intro}\n\n${action}:\n${link}\n\n${outro}\n`,
    html: `<p>${escapeHtml(intro)}</p><p><a href="${escapeHtml(link)}">${escapeHtml(action)}</a></p><p>${escapeHtml(outro)}</p>`,
  };
}

/** A notice with nothing to follow: no link that a forged copy could swap for another. */
function notice(to: string, subject: string, paragraphs: string[]): Mail {
  return { to, subject, text: `${paragraphs.join('\n\n')}\n`, html: paragraphs.map((p) => `<p>${escapeHtml(p)}</p>`).join('') };
}

export const resetMail = (to: string, link: string) =>
  message(to, 'Reset your password', 'Someone asked to reset the password of your account.', 'Choose a new password', link, 'The link works once, for 30 minutes. If it was not you, ignore this mail: your password stays as it is.');

export const magicLinkMail = (to: string, link: string) =>
  message(to, 'Your sign-in link', 'Here is the link you asked for to sign in.', 'Sign in', link, 'The link works once, for 15 minutes. If it was not you, ignore this mail.');

export const verifyMail = (to: string, link: string) =>
  message(to, 'Confirm your email address', 'Please confirm that this address is yours.', 'Confirm this address', link, 'The link works once, for 24 hours.');

/** To the old address when a change is asked for (SPEC section 7: the old address is told). */
export const emailChangeRequestedMail = (to: string, newEmail: string) =>
  notice(to, 'Your email address is being changed', [
    `Someone signed in to your account asked to change its email address to ${newEmail}.`,
    'The change counts only once that address is confirmed. If it was not you, reset your password from the sign-in page now: that ends every session of the account.',
  ]);

/** To the old address once the change is confirmed. */
export const emailChangedMail = (to: string, newEmail: string) =>
  notice(to, 'Your email address was changed', [
    `The email address of your account is now ${newEmail}. Mail about the account no longer comes to this address.`,
    'If it was not you, tell your administrator.',
  ]);
