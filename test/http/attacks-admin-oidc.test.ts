/**
 * Attacks on the administration API, invites and sign-in with another provider
 * (SPEC sections 11 and 12): each test is a hole that was open, shown from outside.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateConfig, type RawSettings } from '../../src/config.js';
import { PASSWORD, postJson, registerUser, startTestGatehouse, uniqueName, type TestGatehouse, type TokenBody } from '../helpers/gatehouse.js';

describe('groups an administrator grants', () => {
  let gate: TestGatehouse;
  let admin: TokenBody;
  beforeAll(async () => {
    gate = await startTestGatehouse({ registration: 'closed' });
    admin = await registerUser(gate, uniqueName('admin'));
  });
  afterAll(() => gate.close());

  const asAdmin = (path: string, body: unknown) => postJson(`${gate.url}${path}`, body, { authorization: `Bearer ${admin.access_token}` });

  // Each of these names is refused by PUT/DELETE /_auth/admin/users/{id}/groups/{group} and `gatehouse group`:
  // granted anyway, it could never be taken away again.
  const unremovable = [['a name outside A-Z a-z 0-9 . _ -', 'Ωmega'], ['a dot segment', '..'], ['a single dot', '.']];

  it.each(unremovable)('refuses an invite into a group with %s', async (_what, group) => {
    const res = await asAdmin('/_auth/admin/invites', { groups: [group] });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: 'invalid_field' });
  });

  it.each(unremovable)('refuses a new user in a group with %s', async (_what, group) => {
    const res = await asAdmin('/_auth/admin/users', { username: uniqueName('member'), password: PASSWORD, groups: [group] });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: 'invalid_field' });
  });

  it('still grants groups the group endpoints can remove', async () => {
    const res = await asAdmin('/_auth/admin/users', { username: uniqueName('member'), password: PASSWORD, groups: ['ops.eu-1_a'] });
    expect(res.status).toBe(201);
    const { id, groups } = (await res.json()) as { id: string; groups: string[] };
    expect(groups).toEqual(['ops.eu-1_a']);
    const removed = await fetch(`${gate.url}/_auth/admin/users/${id}/groups/ops.eu-1_a`, { method: 'DELETE', headers: { authorization: `Bearer ${admin.access_token}` } });
    expect(removed.status).toBe(204);
  });
});

describe('a configuration error in oidc_providers', () => {
  it('never repeats a client_secret written inline in a mapping that should have been a list', () => {
    const provider = { id: 'google', preset: 'google', client_id: 'app', client_secret: 'inline-secret-value' };
    const { errors } = validateConfig(new Map([['oidc_providers', { value: provider, source: 'gatehouse.yaml' }]]) as RawSettings);
    expect(errors?.join('\n')).toMatch(/oidc_providers.*list/);
    expect(errors?.join('\n')).not.toContain('inline-secret-value');
  });
});
