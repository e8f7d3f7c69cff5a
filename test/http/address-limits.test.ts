/**
 * Per-address limits on the endpoints anyone may call that write to the database
 * (SPEC section 7): registration and passkey sign-in challenges. Each request names
 * its client in X-Forwarded-For (127.0.0.1, the test client, is a trusted proxy).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PASSWORD, postJson, startTestGatehouse, uniqueName, type TestGatehouse } from '../helpers/gatehouse.js';

const MINUTE = 60_000;
let lastOctet = 0;
const newClient = () => `192.0.2.${++lastOctet}`;

describe('per-address limits', () => {
  let gate: TestGatehouse;
  beforeAll(async () => {
    gate = await startTestGatehouse();
  });
  afterAll(() => gate?.close());

  const register = (client: string) => postJson(`${gate.url}/_auth/register`, { username: uniqueName('office'), password: PASSWORD }, { 'x-forwarded-for': client });
  const passkeyOptions = (client: string) => postJson(`${gate.url}/_auth/webauthn/login/options`, {}, { 'x-forwarded-for': client });
  const statuses = (answers: Response[]) => answers.map((res) => res.status).sort();

  it('lets ten registrations from one address through within a few minutes (an office behind one address)', async () => {
    const office = newClient();
    for (let i = 0; i < 10; i++) {
      expect((await register(office)).status).toBe(201);
      gate.clock.advance(15_000);
    }
  });

  it('answers a flood of registrations from one address with 429 too_many_requests and Retry-After beyond 20 in 10 minutes, while another address still registers', async () => {
    const flooder = newClient();
    const answers = await Promise.all(Array.from({ length: 30 }, () => register(flooder)));
    expect(statuses(answers)).toEqual([...Array(20).fill(201), ...Array(10).fill(429)]);
    const refused = answers.find((res) => res.status === 429)!;
    expect(await refused.json()).toMatchObject({ error: 'too_many_requests' });
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);

    expect((await register(newClient())).status).toBe(201);
    gate.clock.advance(10 * MINUTE);
    expect((await register(flooder)).status).toBe(201);
  });

  it('counts a registration from any host of one IPv6 /64 against the same limit', async () => {
    const answers = await Promise.all(Array.from({ length: 21 }, (_, i) => register(`2001:db8:5:6::${(i + 1).toString(16)}`)));
    expect(statuses(answers)).toEqual([...Array(20).fill(201), 429]);
    expect((await register('2001:db8:5:7::1')).status).toBe(201);
  });

  it('answers a flood of passkey sign-in challenges from one address with 429 beyond 30 a minute, while another address still gets one', async () => {
    const flooder = newClient();
    const answers = await Promise.all(Array.from({ length: 40 }, () => passkeyOptions(flooder)));
    expect(statuses(answers)).toEqual([...Array(30).fill(200), ...Array(10).fill(429)]);
    const refused = answers.find((res) => res.status === 429)!;
    expect(await refused.json()).toMatchObject({ error: 'too_many_requests' });
    expect(refused.headers.get('retry-after')).toBe('60');

    expect((await passkeyOptions(newClient())).status).toBe(200);
    gate.clock.advance(MINUTE);
    expect((await passkeyOptions(flooder)).status).toBe(200);
  });
});
