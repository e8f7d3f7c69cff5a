/** GET /_auth/openapi.json: the API description (src/openapi/), public and the same for every caller. */
import { openApiJson } from '../openapi/document.js';
import type { Scope } from '../scope.js';

export function openApi(scope: Scope): void {
  const body = openApiJson();
  scope.raw(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': body.length, 'cache-control': 'public, max-age=300' }, body);
}
