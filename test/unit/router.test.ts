import { describe, expect, it } from 'vitest';
import { createRouter, type Route } from '../../src/routes.js';

const handler = () => undefined;
const table: Route[] = [
  { method: 'GET', path: '/_auth/admin/users', handler },
  { method: 'GET', path: '/_auth/admin/users/{id}', handler },
  { method: 'DELETE', path: '/_auth/admin/users/{id}', handler },
  { method: 'PUT', path: '/_auth/admin/users/{id}/groups/{group}', handler },
  { method: 'GET', path: '/_auth/assets/', prefix: true, handler },
];
const router = createRouter(table);

describe('the router', () => {
  it('fills a template segment by segment, decoding each', () => {
    const match = router.find('PUT', '/_auth/admin/users/u%201/groups/dev%2Fops');
    expect(match?.route.path).toBe('/_auth/admin/users/{id}/groups/{group}');
    expect(match?.params).toEqual({ id: 'u 1', group: 'dev/ops' });
  });

  it.each([
    ['an empty segment', 'GET', '/_auth/admin/users/'],
    ['an extra segment', 'GET', '/_auth/admin/users/u1/more'],
    ['a missing segment', 'PUT', '/_auth/admin/users/u1/groups'],
    ['another method', 'POST', '/_auth/admin/users/u1'],
  ])('finds nothing for %s', (_name, method, path) => {
    expect(router.find(method, path)).toBeUndefined();
  });

  it('prefers the exact path over a template', () => {
    expect(router.find('GET', '/_auth/admin/users')?.route.path).toBe('/_auth/admin/users');
  });

  it('names the methods a filled template allows, for a 405', () => {
    expect(router.allowedMethods('/_auth/admin/users/u1')).toBe('GET, HEAD, DELETE');
    expect(router.allowedMethods('/_auth/admin/nothing')).toBeUndefined();
  });

  it('still serves everything under a prefix', () => {
    expect(router.find('GET', '/_auth/assets/webauthn/index.js')?.route.path).toBe('/_auth/assets/');
  });
});
