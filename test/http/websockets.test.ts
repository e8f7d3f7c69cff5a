/**
 * WebSockets (SPEC section 5): a forward-auth check that carries an upgrade is answered
 * like any other; in proxy mode a tunnel lives no longer than the session that opened it.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import { CLI_ACTOR } from '../../src/audit.js';
import { PASSWORD, postJson, registerUser, startTestGatehouse, type TestGatehouse, type TokenBody } from '../helpers/gatehouse.js';
import { rawConnection, requestHead } from '../helpers/raw-socket.js';
import { startEchoUpstream, type EchoUpstream } from '../helpers/upstream.js';

type User = TokenBody & { username: string };

const UPGRADE = { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==' };

describe('a forward-auth check that carries Connection: Upgrade (Caddy copies it from a WebSocket request)', () => {
  let gate: TestGatehouse;
  let user: User;
  beforeAll(async () => {
    gate = await startTestGatehouse();
    await registerUser(gate); // the first account is the administrator
    user = await registerUser(gate);
  });
  afterAll(() => gate.close());

  const STYLES = {
    'Caddy/Traefik': { 'x-forwarded-method': 'GET', 'x-forwarded-proto': 'http', 'x-forwarded-host': 'app.example.com', 'x-forwarded-uri': '/live' },
    nginx: { 'x-original-url': 'http://app.example.com/live', 'x-original-method': 'GET' },
  };

  /** The status line and headers of the answer; a check left unanswered fails after 3 s instead of hanging. */
  async function check(style: keyof typeof STYLES, headers: Record<string, string>): Promise<string> {
    const connection = await rawConnection(gate.url);
    try {
      connection.write(requestHead('GET', '/_auth/verify', { host: new URL(gate.url).host, ...STYLES[style], ...UPGRADE, ...headers }));
      return await connection.readUntil(/\r\n\r\n/);
    } finally {
      connection.close();
    }
  }

  it.each(Object.keys(STYLES) as (keyof typeof STYLES)[])('answers a stranger 401 at once (%s style)', async (style) => {
    expect(await check(style, {})).toMatch(/^HTTP\/1\.1 401 /);
  });

  it.each(Object.keys(STYLES) as (keyof typeof STYLES)[])('answers a signed-in user 200 with the identity headers (%s style)', async (style) => {
    const answer = await check(style, { authorization: `Bearer ${user.access_token}` });
    expect(answer).toMatch(/^HTTP\/1\.1 200 /);
    expect(answer).toMatch(new RegExp(`\\r\\nx-auth-user: ${user.username}\\r\\n`, 'i'));
    // An answer, never a switch of protocol: forward-auth has nothing to tunnel to.
    expect(answer).not.toMatch(/^HTTP\/1\.1 101/);
  });

  it('keeps the connection serving checks after answering one with an upgrade (Caddy reuses it)', async () => {
    const connection = await rawConnection(gate.url);
    try {
      const headers = { host: new URL(gate.url).host, ...STYLES['Caddy/Traefik'], authorization: `Bearer ${user.access_token}` };
      // One after the other, as a client must: a request sent behind an upgrade could be the new protocol's.
      connection.write(requestHead('GET', '/_auth/verify', { ...headers, ...UPGRADE }));
      await connection.readUntil(/^HTTP\/1\.1 200 [\s\S]*\r\n\r\n/);
      connection.write(requestHead('GET', '/_auth/verify', headers));
      const answers = await connection.readUntil(/^HTTP\/1\.1 200 [\s\S]*\r\n\r\nHTTP\/1\.1 200 [\s\S]*\r\n\r\n/);
      expect(answers.match(/^HTTP\/1\.1 /gm)).toHaveLength(2);
    } finally {
      connection.close();
    }
  });
});

interface Tunnel {
  socket: WebSocket;
  /** Resolves with the close code once the tunnel is closed. */
  closed: Promise<number>;
}

const wsUrl = (gate: TestGatehouse, path = '/live') => `${gate.url.replace('http', 'ws')}${path}`;

/** A WebSocket through gatehouse, proven open by one echoed message. */
async function openTunnel(gate: TestGatehouse, accessToken: string): Promise<Tunnel> {
  const socket = new WebSocket(wsUrl(gate), { headers: { authorization: `Bearer ${accessToken}` } });
  const messages: string[] = [];
  socket.on('message', (data) => messages.push(data.toString()));
  const closed = new Promise<number>((resolve) => socket.once('close', (code) => resolve(code)));
  await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
  socket.send('ping');
  await vi.waitFor(() => expect(messages).toContain('echo:ping'));
  return { socket, closed };
}

/** True if the promise settles within `ms`. */
const within = (promise: Promise<unknown>, ms: number) =>
  Promise.race([promise.then(() => true), new Promise<boolean>((resolve) => setTimeout(() => resolve(false), ms))]);
const closesWithin = (tunnel: Tunnel, ms: number) => within(tunnel.closed, ms);

/** The status a WebSocket handshake is refused with. */
function refusedWith(gate: TestGatehouse, accessToken: string): Promise<number> {
  const socket = new WebSocket(wsUrl(gate), { headers: { authorization: `Bearer ${accessToken}` } });
  return new Promise((resolve, reject) => {
    socket.once('unexpected-response', (req, res) => {
      req.destroy();
      resolve(res.statusCode!);
    });
    socket.once('open', () => reject(new Error('the handshake succeeded')));
    socket.once('error', reject);
  });
}

const signIn = async (gate: TestGatehouse, username: string) => (await (await postJson(`${gate.url}/_auth/login`, { username, password: PASSWORD })).json()) as TokenBody;
const findUser = async (gate: TestGatehouse, username: string) => (await gate.services.store.findUserByLogin(username))!;
const NEW_PASSWORD = 'another horse, another staple';
/** Far below the revocation sync interval (5 s with the default trust_window): only the instance's own revocation can close a tunnel this fast. */
const AT_ONCE_MS = 500;

describe('a WebSocket in proxy mode', () => {
  let upstream: EchoUpstream;
  let gate: TestGatehouse;
  let admin: User;
  beforeAll(async () => {
    upstream = await startEchoUpstream();
    gate = await startTestGatehouse({ upstream: upstream.url });
    admin = await registerUser(gate); // the first account is the administrator
  });
  afterAll(async () => {
    await gate.close();
    await upstream.close();
  });

  const endings: [string, (user: User) => Promise<unknown>][] = [
    ['logout-all', async (user) => expect((await postJson(`${gate.url}/_auth/logout`, { all: true }, { authorization: `Bearer ${user.access_token}` })).status).toBe(204)],
    ['disabling the user', async (user) => gate.services.people.setDisabled({ actor: CLI_ACTOR }, await findUser(gate, user.username), true)],
    // The session goes on (it refreshes into the new groups), but what was judged on the old ones must be judged again.
    ['a change of their groups', async (user) => gate.services.people.addToGroup({ actor: CLI_ACTOR }, await findUser(gate, user.username), 'ops')],
    [
      'a password change',
      async (user) => {
        const res = await postJson(`${gate.url}/_auth/account/password`, { current_password: PASSWORD, new_password: NEW_PASSWORD }, { authorization: `Bearer ${user.access_token}` });
        expect(res.status).toBe(200);
      },
    ],
    [
      'a password reset',
      async (user) => {
        const token = await gate.services.oneTimeTokens.issue('password_reset', (await findUser(gate, user.username)).id, null, 60_000);
        expect((await postJson(`${gate.url}/_auth/password/reset`, { token, password: NEW_PASSWORD })).status).toBe(200);
      },
    ],
  ];

  it.each(endings)('closes every tunnel of the user at once on %s, and leaves other users\' open', async (_ending, end) => {
    const user = await registerUser(gate);
    const secondSession = await signIn(gate, user.username);
    const bystander = await registerUser(gate);
    const tunnels = [await openTunnel(gate, user.access_token), await openTunnel(gate, secondSession.access_token)];
    const untouched = await openTunnel(gate, bystander.access_token);

    await end(user);
    for (const tunnel of tunnels) expect(await closesWithin(tunnel, AT_ONCE_MS)).toBe(true);
    expect(untouched.socket.readyState).toBe(WebSocket.OPEN);
    // The access token is still inside its trust window, but its session is over: no new tunnel either.
    expect(await refusedWith(gate, user.access_token)).toBe(401);
    untouched.socket.close();
  });

  it('closes the tunnel of a session that logs out, and only that one', async () => {
    const user = await registerUser(gate);
    const other = await signIn(gate, user.username);
    const [ending, staying] = [await openTunnel(gate, user.access_token), await openTunnel(gate, other.access_token)];
    expect((await postJson(`${gate.url}/_auth/logout`, {}, { authorization: `Bearer ${user.access_token}` })).status).toBe(204);
    expect(await closesWithin(ending, AT_ONCE_MS)).toBe(true);
    expect(staying.socket.readyState).toBe(WebSocket.OPEN);
    staying.socket.close();
  });

  it('closes the tunnel of a session an administrator revokes, and only that one', async () => {
    const user = await registerUser(gate);
    const other = await signIn(gate, user.username);
    const [ending, staying] = [await openTunnel(gate, user.access_token), await openTunnel(gate, other.access_token)];
    const id = user.refresh_token.split('.')[0]!;
    const res = await fetch(`${gate.url}/_auth/admin/sessions/${id}`, { method: 'DELETE', headers: { authorization: `Bearer ${admin.access_token}` } });
    expect(res.status).toBe(204);
    expect(await closesWithin(ending, AT_ONCE_MS)).toBe(true);
    expect(staying.socket.readyState).toBe(WebSocket.OPEN);
    staying.socket.close();
  });

  it('closes the upstream side of a closed tunnel too', async () => {
    const user = await registerUser(gate);
    const earlier = new Set(upstream.webSockets());
    const tunnel = await openTunnel(gate, user.access_token);
    const [upstreamSide] = [...upstream.webSockets()].filter((socket) => !earlier.has(socket));
    expect(upstreamSide?.readyState).toBe(WebSocket.OPEN);
    const upstreamClosed = new Promise((resolve) => upstreamSide!.once('close', resolve));
    await postJson(`${gate.url}/_auth/logout`, { all: true }, { authorization: `Bearer ${user.access_token}` });
    expect(await closesWithin(tunnel, AT_ONCE_MS)).toBe(true);
    expect(await within(upstreamClosed, AT_ONCE_MS)).toBe(true);
  });
});

describe('a shutdown', () => {
  it('cuts open tunnels instead of waiting for them', async () => {
    const upstream = await startEchoUpstream();
    const gate = await startTestGatehouse({ upstream: upstream.url });
    try {
      const tunnel = await openTunnel(gate, (await registerUser(gate)).access_token);
      // Well under the 20 s a request in flight would be given.
      expect(await within(gate.close(), 2_000)).toBe(true);
      expect(await closesWithin(tunnel, AT_ONCE_MS)).toBe(true);
    } finally {
      await upstream.close();
    }
  });
});

describe('a WebSocket on another instance sharing the database', () => {
  let upstream: EchoUpstream;
  let first: TestGatehouse;
  let second: TestGatehouse;
  const settings = { trust_window: '2s', refresh_grace: '1s' };
  beforeAll(async () => {
    upstream = await startEchoUpstream();
    first = await startTestGatehouse({ ...settings, upstream: upstream.url });
    second = await startTestGatehouse({ ...settings, upstream: upstream.url, database_url: first.services.config.database_url });
    // One moment on both: a token the first signs is fresh on the second.
    second.clock.advance(first.clock.now() - second.clock.now());
    await registerUser(first); // the first account is the administrator
  });
  afterAll(async () => {
    await second.close();
    await first.close();
    await upstream.close();
  });

  it('is closed within trust_window after the first instance ends its session', async () => {
    const user = await registerUser(first);
    const tunnel = await openTunnel(second, user.access_token);
    expect((await postJson(`${first.url}/_auth/logout`, { all: true }, { authorization: `Bearer ${user.access_token}` })).status).toBe(204);
    expect(await closesWithin(tunnel, 2_000)).toBe(true);
  });
});
