/**
 * The container image, built from the Dockerfile with podman and run as an operator would:
 * read-only, as its own non-root user, SQLite in a volume, stopped with SIGTERM.
 *
 * No registry of images is reachable, so scripts/podman-stand-ins.sh makes the Dockerfile's
 * base image a local stand-in in a private podman store, and the build runs with no network,
 * its npm reading this machine's npm cache. The base root filesystem and Node are cached in
 * .tools/images between runs; the podman store is new each run, so every run builds afresh.
 */
import { spawnSync } from 'node:child_process';
import { chownSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PASSWORD, postJson, tempDir, type TokenBody } from '../helpers/gatehouse.js';
import { peer } from '../helpers/peers.js';
import { eventually, ROOT, spawnServer, type ServerProcess } from '../helpers/process.js';

const IMAGE = 'gatehouse:0.1.0';
const UID = 1000;
const BUILD_TIMEOUT = 15 * 60_000;

const succeeds = (command: string, args: string[]) => spawnSync(command, args).status === 0;
// Root: the private store uses the overlay driver and runc directly, as CI does.
const podman = peer(
  'podman and runc, run as root',
  () => process.getuid?.() === 0 && succeeds('podman', ['--version']) && succeeds('runc', ['--version']),
  'apt-get install -y podman runc, and run as root',
);
const mmdebstrap = peer('mmdebstrap', () => succeeds('mmdebstrap', ['--version']), 'apt-get install -y mmdebstrap');

let storage = '';
const podmanEnv = () => ({
  ...process.env,
  CONTAINERS_CONF: join(storage, 'containers.conf'),
  CONTAINERS_STORAGE_CONF: join(storage, 'storage.conf'),
});

function run(command: string, args: string[], timeout = 60_000) {
  const result = spawnSync(command, args, { cwd: ROOT, env: podmanEnv(), encoding: 'utf8', timeout, maxBuffer: 64 << 20 });
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')}: exit ${result.status}\n${result.stdout}${result.stderr}`);
  return result.stdout;
}
const runPodman = (args: string[], timeout?: number) => run('podman', args, timeout);

/** npm in the build reads this machine's npm cache and nothing else. */
function buildImage(): void {
  const npmCache = run('npm', ['config', 'get', 'cache']).trim();
  const npmrc = join(storage, 'npmrc');
  writeFileSync(npmrc, 'offline=true\nupdate-notifier=false\n');
  // :O lays a throwaway layer over the cache: npm rewrites index entries as it reads them
  // (and fails to find anything in a plain read-only mount), but the cache itself is never written.
  runPodman(
    ['build', '--pull=never', '--network', 'none', '--volume', `${npmCache}:/root/.npm:O`, '--volume', `${npmrc}:/root/.npmrc:ro`, '--tag', IMAGE, '.'],
    BUILD_TIMEOUT,
  );
}

let containers = 0;
const dirs: string[] = [];

/** A host folder for /data, owned by the image's user as a Kubernetes fsGroup would make it. */
function dataVolume(): string {
  const dir = tempDir();
  chownSync(dir, UID, UID);
  dirs.push(dir);
  return dir;
}

interface LockEntry {
  dev?: boolean;
  optional?: boolean;
  devOptional?: boolean;
}

interface Container extends ServerProcess {
  name: string;
}

/** `podman run` in the foreground: its output is the container's, its exit code the container's. */
async function startContainer(data: string): Promise<Container> {
  const name = `gatehouse-image-test-${process.pid}-${++containers}`;
  const args = ['run', '--rm', '--name', name, '--read-only', '--read-only-tmpfs=false', '--network', 'host', '--volume', `${data}:/data`];
  const env = ['-e', 'GATEHOUSE_LISTEN=127.0.0.1:0', '-e', 'GATEHOUSE_MANAGEMENT_LISTEN=127.0.0.1:0'];
  const server = await spawnServer(podmanEnv(), ['podman', ...args, ...env, IMAGE]);
  return { ...server, name };
}

const ready = (container: Container) =>
  eventually(async () => ((await fetch(`${container.managementUrl}/readyz`).catch(() => undefined))?.status === 200 ? true : undefined), 30_000, 100);

/** `podman stop` does what Kubernetes does: SIGTERM, then SIGKILL after the grace period (10 s here). */
async function stop(container: Container): Promise<{ code: number | null }> {
  runPodman(['stop', '--time', '10', container.name], 30_000);
  return { code: await container.exited };
}

/** The container's main process, seen from the host. */
function mainProcess(container: Container) {
  const pid = runPodman(['inspect', '--format', '{{.State.Pid}}', container.name]).trim();
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string) => status.match(new RegExp(`^${name}:\\s+(.*)$`, 'm'))![1]!;
  return { argv: readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0'), uid: Number(field('Uid').split(/\s+/)[0]) };
}

describe.runIf(podman.available && mmdebstrap.available)(`the container image ${IMAGE}`, () => {
  beforeAll(() => {
    storage = mkdtempSync(join(tmpdir(), 'gatehouse-podman-'));
    run(join(ROOT, 'scripts', 'podman-stand-ins.sh'), [join(ROOT, '.tools', 'images'), storage], BUILD_TIMEOUT);
    buildImage();
  }, 2 * BUILD_TIMEOUT);

  afterAll(() => {
    if (storage) {
      // Removes the store's containers and images, and unmounts their layers.
      spawnSync('podman', ['system', 'reset', '--force'], { env: podmanEnv(), timeout: 120_000 });
      rmSync(storage, { recursive: true, force: true });
    }
    dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true }));
  }, 180_000);

  it('declares a numeric non-root user, ports 4180 and 9180, the /data volume and `gatehouse serve`', () => {
    const [image] = JSON.parse(runPodman(['image', 'inspect', IMAGE])) as { Config: Record<string, any> }[];
    const config = image!.Config;
    expect(config['User']).toBe(`${UID}:${UID}`);
    expect(Object.keys(config['ExposedPorts']).sort()).toEqual(['4180/tcp', '9180/tcp']);
    expect(Object.keys(config['Volumes'])).toEqual(['/data']);
    expect(config['Entrypoint']).toEqual(['gatehouse']);
    expect(config['Cmd']).toEqual(['serve']);
    expect(config['Env']).toContain('GATEHOUSE_DATABASE_URL=file:/data/gatehouse.db');
  });

  it('holds Node 24, the compiled code and the production dependencies, and no tests, sources or dev dependencies', () => {
    const listing = (script: string) => JSON.parse(runPodman(['run', '--rm', '--network', 'none', '--entrypoint', 'node', IMAGE, '-e', script]));
    const inside = listing(`
      const fs = require('node:fs');
      const modules = fs.readdirSync('/app/node_modules').flatMap((name) =>
        name.startsWith('@') ? fs.readdirSync('/app/node_modules/' + name).map((scoped) => name + '/' + scoped) : [name]);
      const files = fs.readdirSync('/app', { recursive: true }).filter((path) => !path.startsWith('node_modules'));
      console.log(JSON.stringify({ node: process.version, app: fs.readdirSync('/app'), modules, files,
        argon2Compiled: fs.existsSync('/app/node_modules/argon2/build') }));`);
    expect(inside.node).toMatch(/^v24\./);
    expect(inside.app.sort()).toEqual(['assets', 'bin', 'dist', 'node_modules', 'package.json']);
    expect(inside.files.filter((path: string) => /(^|\/)test|\.ts$/.test(path))).toEqual([]);
    expect(inside.files).toContain('dist/cli.js');
    // argon2's prebuilt binary, not one compiled in the build (the base has no compiler).
    expect(inside.argon2Compiled).toBe(false);

    const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockEntry> };
    const topLevel = Object.entries(lock.packages).filter(([path]) => /^node_modules\/(@[^/]+\/)?[^/@]+$/.test(path));
    const named = (predicate: (entry: LockEntry) => boolean) => topLevel.filter(([, entry]) => predicate(entry)).map(([path]) => path.slice('node_modules/'.length));
    const dev = named((entry) => entry.dev === true);
    const production = named((entry) => !entry.dev && !entry.optional && !entry.devOptional);
    expect(dev).toEqual(expect.arrayContaining(['vitest', 'typescript']));
    expect(inside.modules.filter((name: string) => dev.includes(name))).toEqual([]);
    expect(production.filter((name) => !inside.modules.includes(name))).toEqual([]);
  });

  describe('run read-only, as its own user, with SQLite in a volume', () => {
    let data = '';
    const username = 'imageadmin';
    beforeAll(() => {
      data = dataVolume();
    });

    it('gets ready, registers the first account in /data, and drains and exits 0 on SIGTERM', async () => {
      const container = await startContainer(data);
      let stopped: Awaited<ReturnType<typeof stop>>;
      try {
        await ready(container);
        const main = mainProcess(container);
        // node itself (the launcher execs it, with its flags) is the main process, so SIGTERM reaches its handler.
        expect(main.argv[0]).toBe('node');
        expect(main.argv).toContain('--liftoff-only');
        expect(main.uid).toBe(UID);

        const res = await postJson(`${container.url}/_auth/register`, { username, password: PASSWORD, email: 'admin@example.com' });
        expect(res.status).toBe(201);
        expect(((await res.json()) as TokenBody).access_token).toBeTruthy();
        expect(statSync(join(data, 'gatehouse.db')).uid).toBe(UID);

        // Nothing but /data is writable, /tmp included.
        for (const path of ['/tmp/x', '/app/x', '/x']) {
          expect(spawnSync('podman', ['exec', container.name, 'touch', path], { env: podmanEnv() }).status).not.toBe(0);
        }
      } finally {
        stopped = await stop(container);
      }
      // A process that ignored SIGTERM would be killed after the grace period: 137, not 0.
      expect(stopped.code).toBe(0);
      expect(container.lines.some((line) => line.includes('"event":"draining"'))).toBe(true);
    }, 120_000);

    it('keeps the account on the volume: restarted, the same account signs in', async () => {
      const container = await startContainer(data);
      let res: Response;
      let stopped: Awaited<ReturnType<typeof stop>>;
      try {
        await ready(container);
        res = await postJson(`${container.url}/_auth/login`, { username, password: PASSWORD });
      } finally {
        stopped = await stop(container);
      }
      expect(stopped.code).toBe(0);
      expect(res.status).toBe(200);
      expect(((await res.json()) as TokenBody).token_type).toBe('Bearer');
    }, 120_000);
  });
});
