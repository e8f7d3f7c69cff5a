/** The mails gatehouse sends, as plain text and HTML; links are built from public_url. */
import { escapeHtml } from '../pages.js';
import type { Mail } from './queue.js';

function message(to: string, subject: string, intro: string, action: string, link: string, outro: string): Mail {
  return {
    to,
    subject,
    text: `${intro}\n\n${action}:\n${link}\n\n${outro}\n`,
    html: `<p>${escapeHtml(intro)}</p><p><a href="${escapeHtml(link)}">${escapeHtml(action)}</a></p><p>${escapeHtml(outro)}</p>`,
  };
}

export const resetMail = (to: string, link: string) =>
  message(to, 'Reset your password', 'Someone asked to reset the password of your account.', 'Choose a new password', link, 'The link works once, for 30 minutes. If it was not you, ignore this mail: your password stays as it is.');

export const magicLinkMail = (to: string, link: string) =>
  message(to, 'Your sign-in link', 'Here is the link you asked for to sign in.', 'Sign in', link, 'The link works once, for 15 minutes. If it was not you, ignore this mail.');

export const verifyMail = (to: string, link: string) =>
  message(to, 'Confirm your email address', 'Please confirm that this address is yours.', 'Confirm this address', link, 'The link works once, for 24 hours.');
