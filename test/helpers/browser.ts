/** Debian's Chromium driven by playwright-core (headless, no sandbox, no background networking). */
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { peer } from './peers.js';

export const CHROMIUM = '/usr/bin/chromium';
export const chromiumPeer = () => peer('Chromium', () => existsSync(CHROMIUM), 'apt-get install -y chromium');

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}
