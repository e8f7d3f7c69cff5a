/** Runs the built `gatehouse` command as a real process, as an operator would. */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CLI = 'dist/cli.js';
/** The shipped command (package.json bin, npm start): dist/cli.js under the memory settings it is measured with. */
export const LAUNCHER = `${ROOT}bin/gatehouse`;

export const gatehouseEnv = (dir: string, extra: Record<string, string> = {}) => ({
  ...process.env,
  GATEHOUSE_DATABASE_URL: `file:${dir}/gatehouse.db`,
  GATEHOUSE_LISTEN: '127.0.0.1:0',
  GATEHOUSE_MANAGEMENT_LISTEN: '127.0.0.1:0',
  ...extra,
});

export interface ServerProcess {
  child: ChildProcess;
  url: string;
  managementUrl: string;
  lines: string[];
  exited: Promise<number | null>;
}

/** Starts `gatehouse serve` and resolves once it logs where it listens. */
export async function spawnServer(env: NodeJS.ProcessEnv, command = [process.execPath, CLI, 'serve']): Promise<ServerProcess> {
  const child = spawn(command[0]!, command.slice(1), { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  let stderr = '';
  child.stderr!.on('data', (chunk) => (stderr += chunk));
  const listening = new Promise<{ address: string; management: string }>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      lines.push(line);
      if (line.includes('"event":"listening"')) resolve(JSON.parse(line));
    });
    void exited.then((code) => reject(new Error(`gatehouse exited with ${code} before listening: ${stderr}`)));
  });
  const { address, management } = await listening;
  return { child, url: `http://${address}`, managementUrl: `http://${management}`, lines, exited };
}

/** Runs a CLI command to completion. */
export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs one CLI command to its end. Asynchronous on purpose: a synchronous spawn would
 * stall this process's event loop, so keep-alive sockets the server closed meanwhile
 * would look open to the next fetch ("other side closed").
 */
export async function runCli(args: string[], env: NodeJS.ProcessEnv, input = ''): Promise<CliResult> {
  const child = spawn(process.execPath, [CLI, ...args], { cwd: ROOT, env, stdio: ['pipe', 'pipe', 'pipe'], timeout: 30_000 });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  child.stdin.end(input);
  const [status] = (await once(child, 'close')) as [number | null];
  return { status, stdout, stderr };
}

export async function eventually<T>(check: () => Promise<T | undefined>, timeoutMs: number, intervalMs = 250): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const result = await check();
    if (result !== undefined) return result;
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
