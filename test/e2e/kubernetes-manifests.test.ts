/**
 * The Kubernetes and Traefik examples in deploy/, checked without a cluster (no API
 * server can run here): every YAML document is validated against the Kubernetes
 * schemas (kubernetes-models) or Traefik v3's CRDs (@kubernetes-models/traefik), and
 * what makes them safe is asserted on the parsed objects.
 *
 * kubernetes-models does not report unknown fields, and Kubernetes, ingress-nginx and
 * Traefik ignore them: a misspelt `readOnlyRootFileSystem`, `auth-response-header` or
 * `authResponseHeader` would silently turn a protection off. So the field names where
 * that matters are compared with the lists below.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { Deployment } from 'kubernetes-models/apps/v1';
import { Ingress, NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { PersistentVolumeClaim, Service } from 'kubernetes-models/v1';
import { ForwardAuth, IngressRoute, Middleware } from '@kubernetes-models/traefik/traefik.io/v1alpha1';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { IDENTITY_HEADERS } from '../../src/auth/identity-headers.js';
import { ROOT } from '../helpers/process.js';

// The parsed YAML is untyped by nature; the schema validation below is what checks it.
type Obj = Record<string, any>;

const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  'apps/v1 Deployment': Deployment,
  'v1 Service': Service,
  'v1 PersistentVolumeClaim': PersistentVolumeClaim,
  'networking.k8s.io/v1 Ingress': Ingress,
  'networking.k8s.io/v1 NetworkPolicy': NetworkPolicy,
  'traefik.io/v1alpha1 Middleware': Middleware,
  'traefik.io/v1alpha1 IngressRoute': IngressRoute,
};

const FIELDS = {
  podSpec: ['enableServiceLinks', 'automountServiceAccountToken', 'securityContext', 'containers', 'volumes'],
  podSecurityContext: ['runAsNonRoot', 'runAsUser', 'runAsGroup', 'fsGroup', 'seccompProfile'],
  container: ['name', 'image', 'args', 'env', 'ports', 'readinessProbe', 'livenessProbe', 'resources', 'securityContext', 'volumeMounts'],
  securityContext: ['runAsNonRoot', 'runAsUser', 'runAsGroup', 'readOnlyRootFilesystem', 'allowPrivilegeEscalation', 'capabilities', 'seccompProfile'],
  ingressNginxAnnotations: ['auth-url', 'auth-signin', 'auth-response-headers', 'auth-always-set-cookie'].map((a) => `nginx.ingress.kubernetes.io/${a}`),
  forwardAuth: ['address', 'trustForwardHeader', 'authResponseHeaders'],
  ingressRoute: ['match', 'kind', 'middlewares', 'services'],
};

/** The four identity headers, from the code that sets them. */
const IDENTITY = Object.values(IDENTITY_HEADERS['x-auth']);
const GATEHOUSE_PORT = 4180;
const MANAGEMENT_PORT = 9180;

interface Doc {
  file: string;
  obj: Obj;
}

function load(dir: string): Doc[] {
  const path = join(ROOT, 'deploy', dir);
  return readdirSync(path)
    .filter((name) => /\.ya?ml$/.test(name))
    .flatMap((name) => {
      const file = relative(ROOT, join(path, name));
      return parseAllDocuments(readFileSync(join(path, name), 'utf8')).map((doc) => {
        if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors[0]!.message}`);
        return { file, obj: doc.toJS() as Obj };
      });
    })
    .filter((doc) => doc.obj !== null);
}

const kubernetes = load('kubernetes');
const traefikFiles = load('traefik');
const ofKind = (kind: string) => kubernetes.filter((d) => d.obj['kind'] === kind);
const key = (d: Doc) => `${d.file} ${d.obj['kind']} ${d.obj['metadata']?.['name']}`;
const unknownFields = (obj: Obj | undefined, allowed: string[]) => Object.keys(obj ?? {}).filter((k) => !allowed.includes(k));
const lower = (names: string[]) => names.map((n) => n.trim().toLowerCase());

const isGatehouse = (c: Obj) => /^gatehouse:/.test(c['image']);
const gatehouseOf = (pod: Obj) => (pod['containers'] as Obj[]).find(isGatehouse);
const gatehousePods = ofKind('Deployment').filter((d) => gatehouseOf(d.obj['spec']['template']['spec']));
const podOf = (d: Doc) => d.obj['spec']['template']['spec'] as Obj;
const envOf = (c: Obj, name: string) => (c['env'] as Obj[]).find((e) => e['name'] === name);

/** A Service's or probe's port (number or name) as a container port number, or undefined. */
function containerPort(container: Obj, port: number | string): number | undefined {
  const found = (container['ports'] as Obj[] | undefined)?.find((p) => p['containerPort'] === port || p['name'] === port);
  return found?.['containerPort'];
}

/** The Deployments in the same namespace whose pods a selector picks. */
function selected(namespace: string, selector: Obj): Doc[] {
  return ofKind('Deployment').filter((d) => {
    const labels = d.obj['spec']['template']['metadata']['labels'] as Obj;
    return d.obj['metadata']['namespace'] === namespace && Object.entries(selector).every(([k, v]) => labels[k] === v);
  });
}

/** The URL must name, in the cluster's DNS, a Service of these files that reaches gatehouse's port. */
function expectGatehouseService(address: string): void {
  const url = new URL(address);
  const [name, namespace, ...rest] = url.hostname.split('.');
  expect(rest.join('.')).toBe('svc.cluster.local');
  expect(url.pathname).toBe('/_auth/verify');
  const service = ofKind('Service').find((d) => d.obj['metadata']['name'] === name && d.obj['metadata']['namespace'] === namespace);
  const port = (service?.obj['spec']['ports'] as Obj[] | undefined)?.find((p) => p['port'] === Number(url.port));
  expect(port, `${address} names no Service port here`).toBeDefined();
  const pods = selected(namespace!, service!.obj['spec']['selector']);
  expect(pods.length).toBeGreaterThan(0);
  for (const pod of pods) expect(containerPort(gatehouseOf(podOf(pod))!, port!['targetPort'])).toBe(GATEHOUSE_PORT);
}

const publicUrls = () => new Set(gatehousePods.map((d) => envOf(gatehouseOf(podOf(d))!, 'GATEHOUSE_PUBLIC_URL')?.['value']));

describe('the Kubernetes examples in deploy/kubernetes/', () => {
  it('hold the sidecar, ingress-nginx and Traefik objects', () => {
    const kinds = new Set(kubernetes.map((d) => d.obj['kind']));
    expect([...kinds]).toEqual(expect.arrayContaining(['Deployment', 'Service', 'Ingress', 'Middleware', 'IngressRoute']));
    expect(gatehousePods.map((d) => d.file)).toEqual(expect.arrayContaining(['deploy/kubernetes/gatehouse.yaml', 'deploy/kubernetes/sidecar.yaml']));
  });

  it.each(kubernetes.map((d) => [key(d), d] as const))('validates %s against its schema', (_, d) => {
    const Model = MODELS[`${d.obj['apiVersion']} ${d.obj['kind']}`];
    expect(Model, `no schema known for ${d.obj['apiVersion']} ${d.obj['kind']}`).toBeDefined();
    expect(() => new Model!(d.obj as never).validate()).not.toThrow();
  });

  it.each(ofKind('Deployment').map((d) => [key(d), d] as const))('spells every pod, container and security field of %s as Kubernetes does', (_, d) => {
    const pod = podOf(d);
    expect(unknownFields(pod, FIELDS.podSpec)).toEqual([]);
    expect(unknownFields(pod['securityContext'], FIELDS.podSecurityContext)).toEqual([]);
    for (const c of pod['containers'] as Obj[]) {
      expect(unknownFields(c, FIELDS.container)).toEqual([]);
      expect(unknownFields(c['securityContext'], FIELDS.securityContext)).toEqual([]);
    }
  });

  it.each(ofKind('Service').map((d) => [key(d), d] as const))('%s reaches its pods only through gatehouse', (_, d) => {
    const pods = selected(d.obj['metadata']['namespace'], d.obj['spec']['selector']);
    expect(pods.length, 'the Service selects no pod of these examples').toBeGreaterThan(0);
    for (const pod of pods) {
      const gatehouse = gatehouseOf(podOf(pod));
      expect(gatehouse, `${key(pod)} runs no gatehouse`).toBeDefined();
      const upstreamPort = Number(new URL(envOf(gatehouse!, 'GATEHOUSE_UPSTREAM')?.['value'] ?? 'http://x:0').port);
      for (const port of d.obj['spec']['ports'] as Obj[]) {
        expect(containerPort(gatehouse!, port['targetPort']), `${port['name']} → ${port['targetPort']}`).toBe(GATEHOUSE_PORT);
        expect(port['targetPort']).not.toBe(upstreamPort);
      }
    }
  });
});

describe.each(gatehousePods.map((d) => [key(d), d] as const))('the gatehouse pod of %s', (_, d) => {
  const pod = podOf(d);
  const gatehouse = gatehouseOf(pod)!;
  const podContext = (pod['securityContext'] ?? {}) as Obj;
  const effective = (c: Obj, field: string) => c['securityContext']?.[field] ?? podContext[field];

  it('runs gatehouse with the restricted security context', () => {
    expect(effective(gatehouse, 'runAsNonRoot')).toBe(true);
    expect(Number.isInteger(effective(gatehouse, 'runAsUser')) && effective(gatehouse, 'runAsUser') > 0).toBe(true);
    expect(gatehouse['securityContext']['readOnlyRootFilesystem']).toBe(true);
  });

  it('keeps every container of the pod in the restricted profile', () => {
    for (const c of pod['containers'] as Obj[]) {
      expect(effective(c, 'runAsNonRoot'), c['name']).toBe(true);
      expect(effective(c, 'seccompProfile')?.['type'], c['name']).toBe('RuntimeDefault');
      expect(c['securityContext']?.['allowPrivilegeEscalation'], c['name']).toBe(false);
      expect(c['securityContext']?.['capabilities']?.['drop'], c['name']).toEqual(['ALL']);
      expect(c['securityContext']?.['capabilities']?.['add'], c['name']).toBeUndefined();
    }
  });

  it('turns service links off, so no GATEHOUSE_PORT-style variable is injected', () => {
    expect(pod['enableServiceLinks']).toBe(false);
  });

  it('listens on 4180 and is probed on /healthz and /readyz on the management port', () => {
    expect(containerPort(gatehouse, GATEHOUSE_PORT)).toBe(GATEHOUSE_PORT);
    expect(gatehouse['livenessProbe']['httpGet']['path']).toBe('/healthz');
    expect(gatehouse['readinessProbe']['httpGet']['path']).toBe('/readyz');
    expect(containerPort(gatehouse, gatehouse['livenessProbe']['httpGet']['port'])).toBe(MANAGEMENT_PORT);
    expect(containerPort(gatehouse, gatehouse['readinessProbe']['httpGet']['port'])).toBe(MANAGEMENT_PORT);
  });

  it('is configured by environment, with secrets only by reference', () => {
    expect(envOf(gatehouse, 'GATEHOUSE_PUBLIC_URL')?.['value']).toMatch(/^https:\/\//);
    expect(envOf(gatehouse, 'GATEHOUSE_TRUSTED_PROXIES')?.['value']).toMatch(/\/\d+$/);
    for (const e of gatehouse['env'] as Obj[]) {
      if (/_URL$/.test(e['name']) && e['value'] !== undefined) expect(e['value'], e['name']).not.toMatch(/@/);
    }
    expect(envOf(gatehouse, 'GATEHOUSE_SMTP_URL')?.['valueFrom']?.['secretKeyRef']).toBeDefined();
  });

  it('keeps an SQLite database on a volume, in one replica replaced (not rolled) on update', () => {
    const database = envOf(gatehouse, 'GATEHOUSE_DATABASE_URL')?.['value'] as string;
    const mount = (gatehouse['volumeMounts'] as Obj[]).find((m) => database.startsWith(`file:${m['mountPath']}/`));
    const volume = (pod['volumes'] as Obj[]).find((v) => v['name'] === mount?.['name']);
    expect(volume?.['persistentVolumeClaim']).toBeDefined();
    expect(d.obj['spec']['replicas']).toBe(1);
    expect(d.obj['spec']['strategy']['type']).toBe('Recreate');
  });

  it('proxies to an upstream only as a sidecar, and then on the loopback address', () => {
    const upstream = envOf(gatehouse, 'GATEHOUSE_UPSTREAM')?.['value'] as string | undefined;
    const sidecar = (pod['containers'] as Obj[]).length > 1;
    expect(upstream !== undefined).toBe(sidecar);
    if (sidecar) expect(new URL(upstream!).hostname).toBe('127.0.0.1');
  });
});

describe('the sidecar example', () => {
  const sidecars = gatehousePods.filter((d) => podOf(d)['containers'].length > 1);

  it('admits only gatehouse ports into the pod, even if the app listened on every address', () => {
    expect(sidecars.length).toBeGreaterThan(0);
    for (const d of sidecars) {
      const labels = d.obj['spec']['template']['metadata']['labels'] as Obj;
      const policy = ofKind('NetworkPolicy').find((p) =>
        Object.entries(p.obj['spec']['podSelector']['matchLabels'] as Obj).every(([k, v]) => labels[k] === v));
      expect(policy?.obj['spec']['policyTypes']).toContain('Ingress');
      const ports = (policy!.obj['spec']['ingress'] as Obj[]).map((rule) => rule['ports'] as Obj[] | undefined);
      expect(ports.every((list) => list !== undefined)).toBe(true);
      for (const p of ports.flat()) expect([GATEHOUSE_PORT, MANAGEMENT_PORT]).toContain(p!['port']);
    }
  });
});

describe('the ingress-nginx example', () => {
  const ingresses = ofKind('Ingress');
  const protectedOnes = ingresses.filter((d) =>
    (d.obj['spec']['rules'] as Obj[]).some((r) => r['http']['paths'].some((p: Obj) => p['backend']['service']['name'] !== 'gatehouse')));

  it('spells every annotation as ingress-nginx does', () => {
    for (const d of ingresses) expect(unknownFields(d.obj['metadata']['annotations'], FIELDS.ingressNginxAnnotations)).toEqual([]);
  });

  it.each(protectedOnes.map((d) => [key(d), d] as const))('%s asks gatehouse and passes all four identity headers', (_, d) => {
    const annotations = d.obj['metadata']['annotations'] as Obj;
    expectGatehouseService(annotations['nginx.ingress.kubernetes.io/auth-url']);
    const signin = new URL(annotations['nginx.ingress.kubernetes.io/auth-signin']);
    expect(publicUrls()).toContain(signin.origin);
    expect(signin.pathname).toBe('/_auth/login');
    expect(signin.searchParams.get('rd')).toBeTruthy();
    const listed = lower(annotations['nginx.ingress.kubernetes.io/auth-response-headers'].split(','));
    expect(listed).toEqual(expect.arrayContaining(IDENTITY));
    expect(annotations['nginx.ingress.kubernetes.io/auth-always-set-cookie']).toBe('true');
  });

  it("serves gatehouse's /_auth/ on the app's host without the auth annotations", () => {
    const hosts = protectedOnes.flatMap((d) => (d.obj['spec']['rules'] as Obj[]).map((r) => r['host']));
    for (const host of hosts) {
      const own = ingresses.find((d) => (d.obj['spec']['rules'] as Obj[]).some((r) =>
        r['host'] === host && r['http']['paths'].some((p: Obj) => p['path'] === '/_auth/' && p['backend']['service']['name'] === 'gatehouse')));
      expect(own, host).toBeDefined();
      expect(own!.obj['metadata']['annotations']).toBeUndefined();
    }
  });
});

describe('the Traefik examples', () => {
  it.each(ofKind('Middleware').map((d) => [key(d), d] as const))('%s asks gatehouse and passes all four identity headers', (_, d) => {
    const forwardAuth = d.obj['spec']['forwardAuth'] as Obj;
    expect(unknownFields(forwardAuth, FIELDS.forwardAuth)).toEqual([]);
    expectGatehouseService(forwardAuth['address']);
    expect(lower(forwardAuth['authResponseHeaders'])).toEqual(expect.arrayContaining(IDENTITY));
  });

  it.each(ofKind('IngressRoute').map((d) => [key(d), d] as const))('%s puts every app route behind the middleware and /_auth/ in front of it', (_, d) => {
    const middlewares = new Set(ofKind('Middleware').map((m) => m.obj['metadata']['name']));
    for (const route of d.obj['spec']['routes'] as Obj[]) {
      expect(unknownFields(route, FIELDS.ingressRoute)).toEqual([]);
      const toGatehouse = (route['services'] as Obj[]).every((s) => s['name'] === 'gatehouse');
      const guarded = ((route['middlewares'] ?? []) as Obj[]).some((m) => middlewares.has(m['name']));
      expect(guarded, route['match']).toBe(!toGatehouse);
      if (toGatehouse) expect(route['match']).toContain('PathPrefix(`/_auth/`)');
    }
  });

  // deploy/traefik/ holds file-provider configuration, not Kubernetes objects: its
  // forwardAuth is checked against the same Traefik v3 schema as the CRD's.
  it.each(traefikFiles.map((d) => [d.file, d] as const))('%s lists all four identity headers in every forwardAuth', (_, d) => {
    const forwardAuths = Object.values(d.obj['http']['middlewares'] as Obj).flatMap((m) => (m as Obj)['forwardAuth'] ?? []) as Obj[];
    expect(forwardAuths.length).toBeGreaterThan(0);
    for (const forwardAuth of forwardAuths) {
      expect(() => new ForwardAuth(forwardAuth).validate()).not.toThrow();
      expect(unknownFields(forwardAuth, FIELDS.forwardAuth)).toEqual([]);
      expect(lower(forwardAuth['authResponseHeaders'])).toEqual(expect.arrayContaining(IDENTITY));
    }
  });

  it.each(traefikFiles.map((d) => [d.file, d] as const))('%s puts every app router behind forwardAuth and /_auth/ in front of it', (_, d) => {
    const middlewares = d.obj['http']['middlewares'] as Obj;
    for (const router of Object.values(d.obj['http']['routers'] as Obj) as Obj[]) {
      const toGatehouse = router['service'] === 'gatehouse';
      const guarded = ((router['middlewares'] ?? []) as string[]).some((name) => middlewares[name]?.['forwardAuth']);
      expect(guarded, router['rule']).toBe(!toGatehouse);
      if (toGatehouse) expect(router['rule']).toContain('PathPrefix(`/_auth/`)');
    }
  });
});
