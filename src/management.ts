/** The management listener: health, readiness and metrics, never on the public port. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { writeJson } from './http.js';
import type { Services } from './services.js';

export function createManagementApp(services: Services): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (path === '/healthz') return writeJson(res, 200, { status: 'ok' });
    if (path === '/readyz') return void ready(services).then((problem) => writeJson(res, problem ? 503 : 200, { status: problem ?? 'ready' }));
    if (path === '/metrics') return void metrics(services, res);
    writeJson(res, 404, { error: 'not_found', message: 'Try /healthz, /readyz or /metrics.' });
  };
}

async function ready(services: Services): Promise<string | undefined> {
  if (!services.keys.loaded) return 'keys_not_loaded';
  try {
    await services.store.ping();
    return undefined;
  } catch {
    return 'database_unreachable';
  }
}

async function metrics(services: Services, res: ServerResponse): Promise<void> {
  const body = await services.metrics.registry.metrics();
  res.writeHead(200, { 'content-type': services.metrics.registry.contentType });
  res.end(body);
}
