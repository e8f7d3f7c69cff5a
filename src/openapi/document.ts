/**
 * GET /_auth/openapi.json: the OpenAPI 3.1 description of gatehouse's HTTP surface,
 * built from the route table (src/routes.ts), the operation table (./operations.ts)
 * and the error catalogue (src/errors.ts), so that it cannot drift from the code: a
 * route without an operation, or an operation without a route, stops the build.
 * Built from code alone, never from the configuration: it is public.
 */
import { ERRORS, type ErrorCode } from '../errors.js';
import { recentlySignedIn, signedIn, signedInAdmin } from '../handlers/common.js';
import { routes, type Route } from '../routes.js';
import type { Handler } from '../scope.js';
import { OPERATIONS, type Answer, type Operation, type Operations } from './operations.js';
import { COMPONENT_SCHEMAS, csrfField, string, type Schema } from './schemas.js';

/** What each route step can answer; each needs a signed-in caller. Every step a route uses must be here. */
const STEPS = new Map<Handler, readonly ErrorCode[]>([
  [signedIn, ['unauthenticated']],
  [recentlySignedIn, ['unauthenticated', 'reauthentication_required']],
  [signedInAdmin, ['unauthenticated', 'admin_required']],
]);

/** Any route: a malformed target, a non-canonical path, a store that is down, a bug. */
export const SHARED_ERRORS: readonly ErrorCode[] = ['invalid_target', 'ambiguous_path', 'store_unavailable', 'internal_error'];
const BODY_ERRORS: readonly ErrorCode[] = ['body_too_large', 'invalid_encoding', 'invalid_json', 'unsupported_media_type'];
const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** Answers that belong to no operation: a path nobody serves, and proxy mode (everything outside /_auth/). */
const SURFACE_ANSWERS: Record<string, { description: string; codes: readonly ErrorCode[] }> = {
  NoSuchPath: { description: 'A path gatehouse does not serve (without an upstream), or a method the path does not allow (with `Allow`).', codes: ['not_found', 'method_not_allowed'] },
  ProxyRefusal: {
    description:
      'Proxy mode, any path outside /_auth/: a browser navigation that is not signed in gets a 302 to the login page, other requests these JSON answers; a signed-in browser navigation that the rules refuse gets the HTML 403 page; an upstream that fails gets 502/504 (a page for navigations).',
    codes: ['unauthenticated', 'forbidden', 'invalid_host', 'ambiguous_path', 'invalid_method_override', 'duplicate_method_override', 'upstream_unreachable', 'upstream_timeout'],
  },
};

const DESCRIPTION = `gatehouse is an authentication proxy. Its own endpoints live under \`/_auth/\`; in proxy mode (\`upstream\` set) every other path is judged by the access rules and forwarded with identity headers (see \`components.responses.ProxyRefusal\` for its refusals). The management port's \`/healthz\`, \`/readyz\` and \`/metrics\` are not part of this document.

Every GET also answers HEAD. Errors are JSON \`{"error","message"}\`; \`error\` is one of \`components.schemas.ErrorCode\`, and each operation lists the codes it can answer, by status. The browser steps of signing in with another provider answer their refusals as a page instead, the codes listed in the answer's \`x-error-codes\`.

Same-origin rule: a POST, PUT, PATCH or DELETE whose \`Origin\` is neither \`public_url\`'s origin nor the request's own host is refused with 403 \`origin_forbidden\` (no \`Origin\`, as from API clients, passes). A form post (\`application/x-www-form-urlencoded\`) must also carry the \`csrf\` field of the page it came from, equal to the \`gatehouse_csrf\` cookie (\`__Host-gatehouse_csrf\` when cookies are secure), else 403 \`csrf_failed\`. JSON needs no token: a browser cannot send it cross-site without a CORS preflight.

Browsers authenticate with the session cookie, API clients with \`Authorization: Bearer <access_token>\`.`;

const key = (route: Pick<Route, 'method' | 'path'>) => `${route.method} ${route.path}`;

/** The document; throws naming every route without an operation and every operation without a route. */
export function buildDocument(routes: readonly Route[], operations: Operations): Record<string, unknown> {
  const keys = new Set(routes.map(key));
  const undocumented = routes.filter((route) => !(key(route) in operations)).map(key);
  const unrouted = Object.keys(operations).filter((name) => !keys.has(name));
  if (undocumented.length > 0 || unrouted.length > 0) {
    throw new Error(`API description out of step with the routes: undocumented ${JSON.stringify(undocumented)}, without a route ${JSON.stringify(unrouted)}`);
  }
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routes) {
    const path = documentedPath(route);
    (paths[path] ??= {})[route.method.toLowerCase()] = operationObject(route, operations[key(route)]!);
  }
  return {
    openapi: '3.1.0',
    jsonSchemaDialect: 'https://spec.openapis.org/oas/3.1/dialect/base',
    info: { title: 'gatehouse', version: '1', description: DESCRIPTION, license: { name: 'Apache-2.0', identifier: 'Apache-2.0' } },
    paths,
    components: {
      schemas: { ...COMPONENT_SCHEMAS, ErrorCode: errorCodeSchema() },
      responses: Object.fromEntries(Object.entries(SURFACE_ANSWERS).map(([name, { description, codes }]) => [name, errorResponse(description, codes)])),
      securitySchemes: {
        session: { type: 'apiKey', in: 'cookie', name: 'gatehouse_session', description: 'The session cookie (HttpOnly, SameSite=Lax; `__Host-gatehouse_session` when secure).' },
        bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'An access token from a sign-in or a refresh.' },
      },
    },
  };
}

/** A prefix route documents what follows it as one parameter. */
const documentedPath = (route: Route) => (route.prefix ? `${route.path}{file}` : route.path);

/** The codes a route can answer: its handler's, its steps', and those every route (or body, or unsafe method) shares. */
export function errorsOf(route: Route, operation: Operation): ErrorCode[] {
  const codes = new Set<ErrorCode>(SHARED_ERRORS);
  for (const step of route.before ?? []) {
    const stepErrors = STEPS.get(step);
    if (!stepErrors) throw new Error(`${key(route)}: the route step ${step.name} is not described in src/openapi/document.ts`);
    stepErrors.forEach((code) => codes.add(code));
  }
  if (UNSAFE.has(route.method)) codes.add('origin_forbidden');
  if (operation.body) BODY_ERRORS.forEach((code) => codes.add(code));
  if (operation.body?.form === true || operation.body?.form === 'only') codes.add('csrf_failed');
  operation.errors.forEach((code) => codes.add(code));
  return [...codes];
}

function operationObject(route: Route, operation: Operation): Record<string, unknown> {
  // Every route step (STEPS) needs a signed-in caller.
  const signedIn = (route.before ?? []).length > 0;
  const params = parameters(route, operation);
  const notes = [operation.description, UNSAFE.has(route.method) && 'Same-origin rule and, for form posts, the CSRF token: see the description of the API.'];
  return {
    operationId: `${route.method.toLowerCase()}${route.path.replace(/[^A-Za-z0-9]+/g, '_').replace(/_$/, '')}`,
    tags: [operation.tag],
    summary: operation.summary,
    ...(notes.some(Boolean) && { description: notes.filter(Boolean).join('\n\n') }),
    ...(params.length > 0 && { parameters: params }),
    ...(operation.body && { requestBody: requestBody(operation.body) }),
    responses: responses(operation, errorsOf(route, operation)),
    ...(signedIn && { security: [{ session: [] }, { bearer: [] }] }),
    ...(!signedIn && operation.session === 'optional' && { security: [{}, { session: [] }, { bearer: [] }] }),
  };
}

function parameters(route: Route, operation: Operation): Record<string, unknown>[] {
  const inPath = [...documentedPath(route).matchAll(/\{(\w+)\}/g)].map(([, name]) => ({ name, in: 'path', required: true, schema: string() }));
  const inQuery = Object.entries(operation.query ?? {}).map(([name, description]) => ({ name, in: 'query', required: false, description, schema: string() }));
  return [...inPath, ...inQuery];
}

function requestBody(body: NonNullable<Operation['body']>): Record<string, unknown> {
  const content: Record<string, unknown> = {};
  if (body.form !== 'only') content['application/json'] = { schema: body.schema };
  if (body.form === 'without-csrf') content['application/x-www-form-urlencoded'] = { schema: body.schema };
  else if (body.form) content['application/x-www-form-urlencoded'] = { schema: { allOf: [body.schema], properties: { csrf: csrfField }, required: ['csrf'] } };
  return { required: !body.optional, content };
}

function responses(operation: Operation, codes: readonly ErrorCode[]): Record<string, Record<string, unknown>> {
  const out: Record<string, Record<string, unknown>> = {};
  for (const [status, answer] of Object.entries(operation.answers)) out[status] = answerObject(answer);
  for (const [status, group] of byStatus(codes)) {
    const error = errorResponse('', group);
    const existing = out[status];
    if (!existing) {
      out[status] = error;
    } else {
      const content = (existing['content'] ??= {}) as Record<string, { schema: Schema }>;
      const json = content['application/json'];
      const errorSchema = (error['content'] as Record<string, { schema: Schema }>)['application/json']!.schema;
      content['application/json'] = { schema: json ? { oneOf: [json.schema, errorSchema] } : errorSchema };
      existing['description'] = `${existing['description']}\n\n${error['description']}`.trim();
    }
    if (operation.errorPages) ((out[status]!['content'] ??= {}) as Record<string, unknown>)['text/html'] = { schema: string('The form again, with the message.') };
  }
  for (const [status, group] of byStatus(operation.pageErrors ?? [])) addErrorPage((out[status] ??= { description: '' }), group);
  return out;
}

/** Codes answered as a page saying why: listed in the description and, for programs, in `x-error-codes`. */
function addErrorPage(response: Record<string, unknown>, codes: readonly ErrorCode[]): void {
  response['description'] = [response['description'], `A page saying why:\n\n${listed(codes)}`].filter(Boolean).join('\n\n');
  ((response['content'] ??= {}) as Record<string, unknown>)['text/html'] = { schema: string('A page with the message.') };
  response['x-error-codes'] = [...((response['x-error-codes'] as ErrorCode[] | undefined) ?? []), ...codes];
}

function answerObject(answer: Answer): Record<string, unknown> {
  const content: Record<string, unknown> = {};
  if (answer.json) content['application/json'] = { schema: answer.json };
  if (answer.html) content['text/html'] = { schema: string() };
  for (const [type, schema] of Object.entries(answer.media ?? {})) content[type] = { schema };
  const headers: Record<string, unknown> = {};
  if (answer.redirect) headers['Location'] = { required: true, schema: string() };
  for (const [name, description] of Object.entries(answer.headers ?? {})) headers[name] = { description, required: true, schema: string() };
  return {
    description: answer.description,
    ...(Object.keys(headers).length > 0 && { headers }),
    ...(Object.keys(content).length > 0 && { content }),
  };
}

function byStatus(codes: readonly ErrorCode[]): Map<number, ErrorCode[]> {
  const groups = new Map<number, ErrorCode[]>();
  for (const code of codes) groups.set(ERRORS[code].status, [...(groups.get(ERRORS[code].status) ?? []), code]);
  return new Map([...groups].sort(([a], [b]) => a - b));
}

const listed = (codes: readonly ErrorCode[]) => codes.map((code) => `- \`${code}\`: ${ERRORS[code].message}`).join('\n');

/** A JSON error answer whose `error` is one of `codes`. */
function errorResponse(description: string, codes: readonly ErrorCode[]): Record<string, unknown> {
  return {
    description: [description, listed(codes)].filter(Boolean).join('\n\n'),
    content: { 'application/json': { schema: { $ref: '#/components/schemas/Error', properties: { error: { enum: codes } } } } },
  };
}

/** The whole catalogue, each code with its status and message. */
function errorCodeSchema(): Schema {
  return {
    type: 'string',
    description: 'Every error code gatehouse answers, with its HTTP status.',
    oneOf: Object.entries(ERRORS).map(([code, { status, message }]) => ({ const: code, description: `${status}: ${message}` })),
  };
}

let cached: Buffer | undefined;

/** The document of gatehouse's own routes, as served: built on first use, then kept. */
export const openApiJson = (): Buffer => (cached ??= Buffer.from(JSON.stringify(buildDocument(routes, OPERATIONS))));
