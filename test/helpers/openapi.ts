/**
 * Checks a live answer against GET /_auth/openapi.json: the operation is found by
 * method and path template, the status must be documented for it, and a JSON body
 * must validate against the documented schema (JSON Schema 2020-12, with formats).
 */
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { openApiJson } from '../../src/openapi/document.js';

type Json = Record<string, unknown>;

export const apiDocument = JSON.parse(openApiJson().toString()) as Json & { paths: Record<string, Record<string, Json>>; components: Json };

const ajv = new Ajv2020({ strict: false, allErrors: true });
(addFormatsModule as unknown as { default: (ajv: Ajv2020) => void }).default(ajv);
ajv.addSchema(apiDocument, 'openapi.json');

const pointer = (...segments: string[]) => segments.map((s) => encodeURIComponent(s.replaceAll('~', '~0').replaceAll('/', '~1'))).join('/');

export interface LiveAnswer {
  status: number;
  contentType: string;
  body: string;
}

export async function liveAnswer(res: Response): Promise<LiveAnswer> {
  return { status: res.status, contentType: (res.headers.get('content-type') ?? '').split(';')[0]!.trim(), body: await res.text() };
}

/** Every (operation, status) checked, for the test that asks for a success and an error per operation. */
export const checked = new Set<string>();

/** Throws, saying why, unless the answer is what the description documents for `method path`. */
export function expectDocumented(method: string, template: string, answer: LiveAnswer): void {
  const operation = apiDocument.paths[template]?.[method.toLowerCase()];
  if (!operation) throw new Error(`${method} ${template} is not in the description`);
  const response = (operation['responses'] as Record<string, Json>)[String(answer.status)];
  if (!response) throw new Error(`${method} ${template} answered ${answer.status}, which is not documented: ${answer.body.slice(0, 200)}`);
  const content = response['content'] as Record<string, Json> | undefined;
  if (answer.body === '') {
    checked.add(`${method} ${template} ${answer.status}`);
    return;
  }
  if (!content?.[answer.contentType]) throw new Error(`${method} ${template} ${answer.status}: ${answer.contentType} is not documented (${Object.keys(content ?? {}).join(', ') || 'no body'})`);
  if (answer.contentType.endsWith('json')) {
    const ref = `openapi.json#/${pointer('paths', template, method.toLowerCase(), 'responses', String(answer.status), 'content', answer.contentType, 'schema')}`;
    const validate = ajv.compile({ $ref: ref });
    if (!validate(JSON.parse(answer.body))) throw new Error(`${method} ${template} ${answer.status}: ${ajv.errorsText(validate.errors)} in ${answer.body.slice(0, 300)}`);
  }
  checked.add(`${method} ${template} ${answer.status}`);
}
