/**
 * GET /_auth/assets/…: the pages' own script, and @simplewebauthn/browser's ESM
 * files (a tree of relative imports, served as is). Only files inside those two
 * folders, only .js, never a path with dot segments.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fail } from '../errors.js';
import type { Scope } from '../scope.js';

const OWN = fileURLToPath(new URL('../../assets/', import.meta.url));
const WEBAUTHN = webauthnBrowserFolder();
const cache = new Map<string, Buffer>();

/** The package exports neither package.json nor its folder: find its root from its entry point. */
function webauthnBrowserFolder(): string {
  const name = '@simplewebauthn/browser';
  const entry = createRequire(import.meta.url).resolve(name);
  return join(entry.slice(0, entry.lastIndexOf(name) + name.length), 'esm') + sep;
}

function fileFor(path: string): string | undefined {
  const [root, rest] = path.startsWith('/_auth/assets/webauthn/')
    ? [WEBAUTHN, path.slice('/_auth/assets/webauthn/'.length)]
    : [OWN, path.slice('/_auth/assets/'.length)];
  if (!/^[\w/.-]+\.js$/.test(rest) || rest.split('/').some((part) => part === '..' || part === '.' || part === '')) return undefined;
  const file = normalize(join(root, rest));
  return file.startsWith(root) ? file : undefined;
}

export async function serveAsset(scope: Scope): Promise<void> {
  const file = fileFor(scope.url.pathname);
  if (!file) throw fail('not_found');
  let body = cache.get(file);
  if (!body) {
    body = await readFile(file).catch(() => undefined);
    if (!body) throw fail('not_found');
    cache.set(file, body);
  }
  scope.raw(200, { 'content-type': 'text/javascript; charset=utf-8', 'content-length': body.length, 'cache-control': 'public, max-age=300' }, body);
}
