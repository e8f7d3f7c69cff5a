/** GET /_auth/admin/audit (SPEC section 11): administrators page through the audit log, newest first. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI_ACTOR, SYSTEM_ACTOR } from '../../src/audit.js';
import { registerUser, startTestGatehouse, type TestGatehouse, type TokenBody } from '../helpers/gatehouse.js';

let gate: TestGatehouse;
let admin: TokenBody & { username: string };
let member: TokenBody & { username: string };
let memberId: string;

interface Page {
  events: { id: number; at: string; type: string; user: { id: string; username: string } | null; actor: Record<string, string>; address: string | null; details: Record<string, unknown> }[];
  next_cursor: string | null;
}

const get = (query: string, token = admin.access_token) => fetch(`${gate.url}/_auth/admin/audit${query}`, { headers: { authorization: `Bearer ${token}` } });
const page = async (query: string) => {
  const res = await get(query);
  expect(res.status, await res.clone().text()).toBe(200);
  return (await res.json()) as Page;
};

beforeAll(async () => {
  gate = await startTestGatehouse();
  admin = await registerUser(gate, 'chief');
  member = await registerUser(gate, 'member');
  memberId = (await gate.services.store.findUserByLogin('member'))!.id;
});
afterAll(() => gate.close());

describe('GET /_auth/admin/audit', () => {
  it('refuses strangers with 401 and members who are not administrators with 403', async () => {
    const stranger = await fetch(`${gate.url}/_auth/admin/audit`);
    expect(stranger.status).toBe(401);
    expect(await stranger.json()).toMatchObject({ error: 'unauthenticated' });
    const res = await get('', member.access_token);
    expect(res.status).toBe(403);
    expect(await res.json()).toMatchObject({ error: 'admin_required' });
  });

  it('shows each event with its user, actor, address and details, newest first', async () => {
    const { events, next_cursor } = await page(`?user=${memberId}`);
    expect(next_cursor).toBeNull();
    expect(events.map((e) => e.type)).toEqual(['login_succeeded', 'user_registered']);
    expect(events[1]).toEqual({
      id: expect.any(Number),
      at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      type: 'user_registered',
      user: { id: memberId, username: 'member' },
      actor: { kind: 'user', id: memberId, username: 'member' },
      address: expect.stringMatching(/^198\.18\./),
      details: { admin: false },
    });
    await gate.services.audit.record({ type: 'signing_key_added', actor: CLI_ACTOR, details: { kid: 'k1' } });
    const [latest] = (await page('?limit=1')).events;
    expect(latest).toMatchObject({ type: 'signing_key_added', user: null, actor: { kind: 'cli' }, address: null, details: { kid: 'k1' } });
    expect(Object.keys(latest!.actor)).toEqual(['kind']);
  });

  it('filters by type and by time (a duration back or an ISO time)', async () => {
    gate.clock.advance(2 * 3_600_000);
    // The access token has expired meanwhile: the refresh token gets a fresh one.
    const refreshed = await fetch(`${gate.url}/_auth/refresh`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ refresh_token: admin.refresh_token }) });
    admin = { ...admin, ...((await refreshed.json()) as TokenBody) };
    await gate.services.audit.record({ type: 'ban', actor: SYSTEM_ACTOR, address: '192.0.2.9', details: { key: 'ip:192.0.2.9' } });
    expect((await page('?since=1h')).events.map((e) => e.type)).toEqual(['ban']);
    const isoHourAgo = new Date(gate.clock.now() - 3_600_000).toISOString();
    expect((await page(`?since=${encodeURIComponent(isoHourAgo)}`)).events.map((e) => e.type)).toEqual(['ban']);
    expect((await page('?since=3h')).events.length).toBeGreaterThan(1);
    expect((await page('?type=ban')).events.map((e) => e.address)).toEqual(['192.0.2.9']);
    expect((await page(`?type=user_registered&user=${memberId}`)).events).toHaveLength(1);
    expect((await page('?user=nobody-has-this-id')).events).toEqual([]);
  });

  it('pages through every event exactly once while new ones are appended', async () => {
    for (let i = 0; i < 45; i++) await gate.services.audit.record({ type: 'paging_test', actor: CLI_ACTOR, details: { i } });
    const seen: number[] = [];
    let cursor: string | null = '';
    let pages = 0;
    while (cursor !== null) {
      const { events, next_cursor } = await page(`?type=paging_test&limit=7${cursor ? `&cursor=${cursor}` : ''}`);
      expect(events.length).toBeLessThanOrEqual(7);
      seen.push(...events.map((e) => e.details['i'] as number));
      // Others keep acting while an administrator reads.
      await Promise.all([0, 1, 2].map((j) => gate.services.audit.record({ type: 'paging_test', actor: CLI_ACTOR, details: { i: 1000 + pages * 3 + j } })));
      cursor = next_cursor;
      pages++;
    }
    const original = seen.filter((i) => i < 1000);
    expect(original).toEqual(Array.from({ length: 45 }, (_, i) => 44 - i));
    expect(new Set(seen).size).toBe(seen.length);
    expect(pages).toBe(7);
  });

  it.each([
    ['limit=0'],
    ['limit=201'],
    ['limit=ten'],
    ['limit=-1'],
    ['limit=1.5'],
    ['cursor=not%20a%20cursor'],
    ['cursor=' + Buffer.from('0').toString('base64url')],
    ['cursor=' + Buffer.from('1 OR 1=1').toString('base64url')],
    ['cursor=' + 'A'.repeat(5000)],
    ['since=yesterday'],
    ['since=2026-13-45'],
    ['since=-1h'],
    ['type=Login%20Failed'],
    ['type=' + 'a'.repeat(65)],
    ['limit=5&limit=6'],
    ['type=ban&type=login_failed'],
  ])('answers 400 invalid_field for %s', async (query) => {
    const res = await get(`?${query}`);
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: 'invalid_field' });
  });

  it('takes empty parameters as absent ones, as a form sends them (like every admin list)', async () => {
    const all = await page('?limit=50');
    expect((await page('?user=&type=&since=&cursor=&limit=')).events).toEqual(all.events);
  });

  it('answers many concurrent readers alike', async () => {
    const answers = await Promise.all(Array.from({ length: 20 }, () => page('?type=paging_test&limit=5')));
    expect(new Set(answers.map((a) => JSON.stringify(a))).size).toBe(1);
  });
});
