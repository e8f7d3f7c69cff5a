/**
 * The Helm chart in helm/gatehouse, checked without a cluster: `helm lint --strict`, then
 * `helm template` for the default values and each helm/gatehouse/ci/*.yaml, every rendered
 * document validated against the Kubernetes schemas (kubernetes-models, as in
 * kubernetes-manifests.test.ts), and what makes the chart safe asserted on the parsed objects.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Deployment } from 'kubernetes-models/apps/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { Job } from 'kubernetes-models/batch/v1';
import { Ingress, NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ConfigMap, PersistentVolumeClaim, Service } from 'kubernetes-models/v1';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { peer } from '../helpers/peers.js';
import { ROOT, runCli } from '../helpers/process.js';

// The rendered YAML is untyped by nature; the schema validation below is what checks it.
type Obj = Record<string, any>;

const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  'apps/v1 Deployment': Deployment,
  'batch/v1 Job': Job,
  'v1 Service': Service,
  'v1 ConfigMap': ConfigMap,
  'v1 PersistentVolumeClaim': PersistentVolumeClaim,
  'policy/v1 PodDisruptionBudget': PodDisruptionBudget,
  'autoscaling/v2 HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'networking.k8s.io/v1 Ingress': Ingress,
  'networking.k8s.io/v1 NetworkPolicy': NetworkPolicy,
};
/** Prometheus Operator's CRD has no model here: its fields are asserted by hand below. */
const SERVICE_MONITOR = 'monitoring.coreos.com/v1 ServiceMonitor';

const HELM = process.env['HELM'] ?? join(ROOT, '.tools', 'helm');
const helm = peer(`helm (${HELM})`, () => spawnSync(HELM, ['version', '--short']).status === 0, 'scripts/install-helm.sh .tools');
const CHART = join(ROOT, 'helm', 'gatehouse');
const CI_VALUES = readdirSync(join(CHART, 'ci')).filter((name) => name.endsWith('.yaml')).map((name) => `ci/${name}`);
const POSTGRESQL = 'ci/postgresql-values.yaml';
const GATEHOUSE_PORT = 4180;
const MANAGEMENT_PORT = 9180;

// helm keeps caches and repositories in the user's home unless told otherwise.
const helmHome = mkdtempSync(join(tmpdir(), 'gatehouse-helm-'));
const helmEnv = {
  ...process.env,
  HELM_CACHE_HOME: join(helmHome, 'cache'),
  HELM_CONFIG_HOME: join(helmHome, 'config'),
  HELM_DATA_HOME: join(helmHome, 'data'),
};
afterAll(() => rmSync(helmHome, { recursive: true, force: true }));

function runHelm(args: string[]) {
  const result = spawnSync(HELM, args, { cwd: CHART, env: helmEnv, encoding: 'utf8', timeout: 60_000 });
  return { status: result.status, output: `${result.stdout}${result.stderr}`, stdout: result.stdout };
}

const valuesArgs = (values: string | undefined) => (values ? ['-f', values] : []);

/** `helm template`'s documents; `extra` are more flags (--set ...). */
function template(values: string | undefined, extra: string[] = []): { status: number | null; output: string; docs: Obj[] } {
  const result = runHelm(['template', 'gatehouse', '.', '--namespace', 'app', '--kube-version', '1.30.0', ...valuesArgs(values), ...extra]);
  if (result.status !== 0) return { ...result, docs: [] };
  const docs = parseAllDocuments(result.stdout).map((doc) => {
    if (doc.errors.length > 0) throw new Error(`${values ?? 'default values'}: ${doc.errors[0]!.message}`);
    return doc.toJS() as Obj;
  });
  return { ...result, docs: docs.filter((d) => d !== null) };
}

const VALUE_SETS: (string | undefined)[] = [undefined, ...CI_VALUES];
const label = (values: string | undefined) => values ?? 'the default values';
const rendered = new Map<string | undefined, Obj[]>();
const docsOf = (values: string | undefined) => rendered.get(values)!;
const ofKind = (docs: Obj[], kind: string) => docs.filter((d) => d['kind'] === kind);
const only = (docs: Obj[], kind: string) => {
  const found = ofKind(docs, kind);
  expect(found.map((d) => d['metadata']['name'])).toHaveLength(1);
  return found[0]!;
};
const podsOf = (docs: Obj[]) => [...ofKind(docs, 'Deployment'), ...ofKind(docs, 'Job')];
const podSpec = (workload: Obj) => workload['spec']['template']['spec'] as Obj;
const gatehouse = (docs: Obj[]) => podSpec(only(docs, 'Deployment'))['containers'][0] as Obj;
const env = (container: Obj, name: string) => (container['env'] as Obj[]).find((e) => e['name'] === name);
/** The objects a pod needs before it can start, as Kind/name. */
function referencesOf(pod: Obj): string[] {
  const volumes = (pod['volumes'] as Obj[] | undefined) ?? [];
  const variables = (pod['containers'] as Obj[]).flatMap((c) => [...((c['env'] as Obj[] | undefined) ?? []), ...((c['envFrom'] as Obj[] | undefined) ?? [])]);
  const refs = [
    ...volumes.map((v) => v['configMap'] && `ConfigMap/${v['configMap']['name']}`),
    ...volumes.map((v) => v['persistentVolumeClaim'] && `PersistentVolumeClaim/${v['persistentVolumeClaim']['claimName']}`),
    ...volumes.map((v) => v['secret'] && `Secret/${v['secret']['secretName']}`),
    ...variables.map((e) => (e['valueFrom']?.['secretKeyRef'] ?? e['secretRef']) && `Secret/${(e['valueFrom']?.['secretKeyRef'] ?? e['secretRef'])['name']}`),
    ...variables.map((e) => (e['valueFrom']?.['configMapKeyRef'] ?? e['configMapRef']) && `ConfigMap/${(e['valueFrom']?.['configMapKeyRef'] ?? e['configMapRef'])['name']}`),
    pod['serviceAccountName'] && `ServiceAccount/${pod['serviceAccountName']}`,
  ];
  return [...new Set(refs.filter((ref): ref is string => Boolean(ref)))];
}
const isHook = (d: Obj) => d['metadata']['annotations']?.['helm.sh/hook'] !== undefined;

describe.skipIf(!helm.available)('the Helm chart in helm/gatehouse', () => {
  beforeAll(() => {
    for (const values of VALUE_SETS) {
      const result = template(values);
      if (result.status !== 0) throw new Error(`helm template with ${label(values)} failed:\n${result.output}`);
      rendered.set(values, result.docs);
    }
    // `config check` below runs the built command; `npm test` builds it before vitest.
    if (!existsSync(join(ROOT, 'dist', 'cli.js'))) spawnSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'inherit' });
  });

  it('has example values, one of them PostgreSQL', async () => {
    expect(CI_VALUES).toContain(POSTGRESQL);
    expect(CI_VALUES.length).toBeGreaterThanOrEqual(2);
  });

  it.each(VALUE_SETS.map((v) => [label(v), v] as const))('passes helm lint --strict with %s', async (_, values) => {
    const result = runHelm(['lint', '--strict', '.', ...valuesArgs(values)]);
    expect(result.output).toContain('0 chart(s) failed');
    expect(result.status).toBe(0);
  });

  it.each(VALUE_SETS.map((v) => [label(v), v] as const))('renders only objects valid against their schemas with %s', async (_, values) => {
    for (const doc of docsOf(values)) {
      const kind = `${doc['apiVersion']} ${doc['kind']}`;
      if (kind === SERVICE_MONITOR) continue;
      const Model = MODELS[kind];
      expect(Model, `no schema for ${kind}`).toBeDefined();
      expect(() => new Model!(doc as never).validate(), `${kind} ${doc['metadata']['name']}`).not.toThrow();
    }
  });

  it.each(VALUE_SETS.map((v) => [label(v), v] as const))('runs every pod restricted, without service links, with %s', async (_, values) => {
    const pods = podsOf(docsOf(values));
    expect(pods.length).toBeGreaterThan(0);
    for (const workload of pods) {
      const pod = podSpec(workload);
      expect(pod['enableServiceLinks']).toBe(false);
      expect(pod['automountServiceAccountToken']).toBe(false);
      expect(pod['securityContext']).toMatchObject({ runAsNonRoot: true, runAsUser: 1000, seccompProfile: { type: 'RuntimeDefault' } });
      for (const container of pod['containers'] as Obj[]) {
        expect(container['securityContext']).toMatchObject({
          runAsNonRoot: true,
          runAsUser: 1000,
          readOnlyRootFilesystem: true,
          allowPrivilegeEscalation: false,
          capabilities: { drop: ['ALL'] },
          seccompProfile: { type: 'RuntimeDefault' },
        });
        expect(container['image']).toBe('gatehouse:0.1.0');
        // The root filesystem is read-only: /tmp is a volume of the pod's own.
        const tmp = (container['volumeMounts'] as Obj[]).find((m) => m['mountPath'] === '/tmp');
        expect((pod['volumes'] as Obj[]).find((v) => v['name'] === tmp?.['name'])).toMatchObject({ emptyDir: {} });
      }
    }
  });

  it.each(VALUE_SETS.map((v) => [label(v), v] as const))('gives gatehouse a config that `gatehouse config check` accepts, with %s', async (_, values) => {
    const docs = docsOf(values);
    const configMap = only(docs, 'ConfigMap');
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-helm-config-'));
    try {
      const file = join(dir, 'config.yaml');
      writeFileSync(file, configMap['data']['config.yaml']);
      const clean = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('GATEHOUSE_')));
      const check = await runCli(['config', 'check', '--config', file], clean);
      expect(check.stderr).toBe('');
      expect(check.status).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    // ... and the file is the one gatehouse is started with.
    const pod = podSpec(only(docs, 'Deployment'));
    const args = gatehouse(docs)['args'] as string[];
    const mount = (gatehouse(docs)['volumeMounts'] as Obj[]).find((m) => `${m['mountPath']}/config.yaml` === args[args.indexOf('--config') + 1]);
    expect(args[0]).toBe('serve');
    expect((pod['volumes'] as Obj[]).find((v) => v['name'] === mount?.['name'])).toMatchObject({ configMap: { name: configMap['metadata']['name'] } });
  });

  it('restarts the pods when the config changes, by a checksum of it', async () => {
    const checksum = (docs: Obj[]) => only(docs, 'Deployment')['spec']['template']['metadata']['annotations']['checksum/config'];
    const changed = template(undefined, ['--set', 'config.log_level=debug']);
    expect(checksum(docsOf(undefined))).toMatch(/^[0-9a-f]{64}$/);
    expect(checksum(changed.docs)).toMatch(/^[0-9a-f]{64}$/);
    expect(checksum(changed.docs)).not.toBe(checksum(docsOf(undefined)));
  });

  it('probes /healthz and /readyz on the management port, and serves 4180 and 9180 from two Services', async () => {
    const docs = docsOf(undefined);
    const container = gatehouse(docs);
    const port = (name: string) => (container['ports'] as Obj[]).find((p) => p['name'] === name)?.['containerPort'];
    expect(container['livenessProbe']['httpGet']).toMatchObject({ path: '/healthz' });
    expect(container['readinessProbe']['httpGet']).toMatchObject({ path: '/readyz' });
    expect(port(container['livenessProbe']['httpGet']['port'])).toBe(MANAGEMENT_PORT);
    expect(port(container['readinessProbe']['httpGet']['port'])).toBe(MANAGEMENT_PORT);
    const targets = ofKind(docs, 'Service').map((s) => (s['spec']['ports'] as Obj[]).map((p) => port(p['targetPort'])));
    // No Service mixes the public port with the management one.
    expect(targets).toEqual(expect.arrayContaining([[GATEHOUSE_PORT], [MANAGEMENT_PORT]]));
    expect(targets).toHaveLength(2);
  });

  it('keeps the default SQLite database on a volume, with one replica recreated, not rolled', async () => {
    const docs = docsOf(undefined);
    const deployment = only(docs, 'Deployment');
    const claim = only(docs, 'PersistentVolumeClaim');
    expect(deployment['spec']['replicas']).toBe(1);
    expect(deployment['spec']['strategy']['type']).toBe('Recreate');
    expect(env(gatehouse(docs), 'GATEHOUSE_DATABASE_URL')).toMatchObject({ value: 'file:/data/gatehouse.db' });
    const data = (gatehouse(docs)['volumeMounts'] as Obj[]).find((m) => m['mountPath'] === '/data');
    const volume = (podSpec(deployment)['volumes'] as Obj[]).find((v) => v['name'] === data?.['name']);
    expect(volume?.['persistentVolumeClaim']?.['claimName']).toBe(claim['metadata']['name']);
    expect(ofKind(docs, 'Job')).toEqual([]);
  });

  it('lets a node be drained under the one SQLite replica', async () => {
    const budget = only(docsOf(undefined), 'PodDisruptionBudget')['spec'];
    if ('minAvailable' in budget) expect(budget['minAvailable']).toBe(0);
    else expect(budget['maxUnavailable']).toBeGreaterThanOrEqual(1);
  });

  it.each([
    ['more than one SQLite replica', ['--set', 'replicaCount=3'], /SQLite allows one replica only \(replicaCount is 3\)/],
    ['autoscaling SQLite', ['--set', 'autoscaling.enabled=true'], /SQLite allows one replica only, so autoscaling\.enabled needs database\.type=postgresql/],
    ['PostgreSQL without existingSecret', ['--set', 'database.type=postgresql'], /database\.type postgresql needs existingSecret/],
    ['a replica count that is not a number', ['--set', 'replicaCount=three'], /replicaCount.*want integer/],
    ['an unknown database', ['--set', 'database.type=mysql'], /database\/type/],
    ['a writable root filesystem', ['--set', 'securityContext.readOnlyRootFilesystem=false'], /readOnlyRootFilesystem/],
    ['a misspelt setting', ['--set', 'replicas=2'], /replicas/],
  ])('refuses %s, saying why', async (_, extra, message) => {
    const result = template(undefined, extra);
    expect(result.status).not.toBe(0);
    expect(result.output).toMatch(message);
  });

  it('runs three PostgreSQL replicas with the URL from existingSecret, and no volume', async () => {
    const docs = docsOf(POSTGRESQL);
    const deployment = only(docs, 'Deployment');
    expect(deployment['spec']['replicas']).toBe(3);
    expect(deployment['spec']['strategy']['type']).toBe('RollingUpdate');
    expect(ofKind(docs, 'PersistentVolumeClaim')).toEqual([]);
    expect((gatehouse(docs)['volumeMounts'] as Obj[]).map((m) => m['mountPath'])).not.toContain('/data');
    const url = env(gatehouse(docs), 'GATEHOUSE_DATABASE_URL');
    expect(url).toEqual({ name: 'GATEHOUSE_DATABASE_URL', valueFrom: { secretKeyRef: { name: 'gatehouse', key: 'database-url' } } });
  });

  it('migrates PostgreSQL in a pre-install/pre-upgrade hook that needs none of the chart\'s own objects', async () => {
    const docs = docsOf(POSTGRESQL);
    const job = only(docs, 'Job');
    const hooks = (job['metadata']['annotations']['helm.sh/hook'] as string).split(',');
    expect(hooks).toEqual(expect.arrayContaining(['pre-install', 'pre-upgrade']));
    expect(job['metadata']['annotations']['helm.sh/hook-delete-policy']).toContain('before-hook-creation');
    const container = podSpec(job)['containers'][0] as Obj;
    expect(container['args']).toEqual(['migrate']);
    expect(env(container, 'GATEHOUSE_DATABASE_URL')).toEqual(env(gatehouse(docs), 'GATEHOUSE_DATABASE_URL'));
    // A pre-install hook runs before the chart's other objects exist: naming one would wait forever.
    const made = new Set(docs.filter((d) => !isHook(d)).map((d) => `${d['kind']}/${d['metadata']['name']}`));
    expect(referencesOf(podSpec(job)).filter((ref) => made.has(ref))).toEqual([]);
    expect(referencesOf(podSpec(job))).toEqual(['Secret/gatehouse']);
    expect(podSpec(job)['restartPolicy']).toBe('Never');
  });

  it.each(VALUE_SETS.map((v) => [label(v), v] as const))('takes every secret by reference, never as a value, with %s', async (_, values) => {
    const docs = docsOf(values);
    expect(ofKind(docs, 'Secret')).toEqual([]);
    for (const workload of podsOf(docs)) {
      for (const variable of (podSpec(workload)['containers'] as Obj[]).flatMap((c) => c['env'] as Obj[])) {
        if (['GATEHOUSE_SMTP_URL', 'GATEHOUSE_PASSWORD_PEPPER', 'GATEHOUSE_UPSTREAM', 'GATEHOUSE_HIBP_URL'].includes(variable['name'])) {
          expect(variable['value']).toBeUndefined();
          expect(variable['valueFrom']['secretKeyRef']['name']).toBeTruthy();
        }
      }
    }
  });

  it('gives the SMTP URL, the pepper and the providers\' secrets from existingSecret', async () => {
    const container = gatehouse(docsOf('ci/sqlite-values.yaml'));
    expect(env(container, 'GATEHOUSE_SMTP_URL')?.['valueFrom']['secretKeyRef']).toEqual({ name: 'gatehouse', key: 'smtp-url', optional: true });
    expect(env(container, 'GATEHOUSE_PASSWORD_PEPPER')?.['valueFrom']['secretKeyRef']).toEqual({ name: 'gatehouse', key: 'password-pepper', optional: true });
    expect(env(container, 'GOOGLE_CLIENT_SECRET')?.['valueFrom']['secretKeyRef']).toEqual({ name: 'gatehouse', key: 'google-client-secret' });
  });

  describe('with autoscaling and every optional object', () => {
    const values = 'ci/autoscaling-values.yaml';

    it('scales the Deployment by an HPA, which then owns the replica count', async () => {
      const docs = docsOf(values);
      const deployment = only(docs, 'Deployment');
      const hpa = only(docs, 'HorizontalPodAutoscaler')['spec'];
      expect(deployment['spec']['replicas']).toBeUndefined();
      expect(hpa['scaleTargetRef']).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: deployment['metadata']['name'] });
      expect(hpa['minReplicas']).toBeLessThanOrEqual(hpa['maxReplicas']);
    });

    it('opens only ports 4180 and 9180 in the NetworkPolicy, each to the peers given', async () => {
      const policy = only(docsOf(values), 'NetworkPolicy')['spec'];
      expect(policy['policyTypes']).toEqual(['Ingress']);
      expect((policy['ingress'] as Obj[]).map((rule) => rule['ports'].map((p: Obj) => p['port']))).toEqual([[GATEHOUSE_PORT], [MANAGEMENT_PORT]]);
      expect((policy['ingress'] as Obj[]).every((rule) => rule['from']?.length === 1)).toBe(true);
    });

    it('routes only /_auth of the host to gatehouse\'s public port by the Ingress', async () => {
      const docs = docsOf(values);
      const rules = only(docs, 'Ingress')['spec']['rules'] as Obj[];
      const paths = rules.flatMap((r) => r['http']['paths'] as Obj[]);
      expect(rules.map((r) => r['host'])).toEqual(['app.example.com']);
      expect(paths.map((p) => [p['path'], p['pathType']])).toEqual([['/_auth', 'Prefix']]);
      const service = ofKind(docs, 'Service').find((s) => s['metadata']['name'] === paths[0]!['backend']['service']['name'])!;
      const servicePort = (service['spec']['ports'] as Obj[]).find((p) => p['name'] === paths[0]!['backend']['service']['port']['name']);
      expect(servicePort?.['targetPort']).toBe('http');
    });

    it('scrapes the metrics Service by a ServiceMonitor', async () => {
      const docs = docsOf(values);
      const monitor = only(docs, 'ServiceMonitor');
      expect(Object.keys(monitor['spec']).sort()).toEqual(['endpoints', 'selector']);
      const metrics = ofKind(docs, 'Service').filter((s) =>
        Object.entries(monitor['spec']['selector']['matchLabels'] as Obj).every(([k, v]) => s['metadata']['labels'][k] === v),
      );
      expect(metrics).toHaveLength(1);
      expect(monitor['spec']['endpoints']).toEqual([{ port: metrics[0]!['spec']['ports'][0]['name'], path: '/metrics', interval: '30s' }]);
      expect(metrics[0]!['spec']['ports'][0]['targetPort']).toBe('management');
    });
  });
});
