import { readFileSync } from 'node:fs';
import { OpenApiResponseValidator, type ReceivedResponse } from './openapi-responses.js';

// The checker of every e2e response against openapi.json: it accepts what the document declares
// (each of the document's own examples) and reports each kind of drift.

const document = JSON.parse(readFileSync('openapi.json', 'utf8'));
const validator = new OpenApiResponseValidator(document);

const CHARGE = document.paths['/v1/charges'].post.responses['201'].content['application/json'].example;
const REQUEST_ID = { 'x-request-id': '1b4e28ba-2fa1-4d3b-a3f5-ef19b5a7633b' };

function answer(method: string, path: string, status: number, headers: Record<string, string>, body: unknown): ReceivedResponse {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  return { method, path, status, headers: new Headers(headers), text };
}

function created(headers: Record<string, string> = {}, body: unknown = CHARGE): ReceivedResponse {
  return answer(
    'POST',
    '/v1/charges',
    201,
    {
      ...REQUEST_ID,
      'content-type': 'application/json; charset=utf-8',
      'idempotency-expires': 'Tue, 24 Nov 2026 14:37:15 GMT',
      location: '/v1/charges/ch_1',
      ...headers,
    },
    body,
  );
}

describe('OpenApiResponseValidator', () => {
  it('accepts every example of the document, with the headers its response requires', () => {
    let examples = 0;
    for (const [template, operations] of Object.entries<any>(document.paths)) {
      for (const [method, operation] of Object.entries<any>(operations)) {
        for (const [status, response] of Object.entries<any>(operation.responses)) {
          const headers: Record<string, string> = {};
          for (const [name, header] of Object.entries<any>(response.headers ?? {})) {
            const definition = header.$ref ? document.components.headers[header.$ref.split('/').pop()] : header;
            if (definition.required) headers[name] = String(definition.schema.example ?? definition.schema.enum?.[0]);
          }
          for (const [mediaType, media] of Object.entries<any>(response.content ?? {})) {
            const values = media.example !== undefined ? [media.example] : Object.values<any>(media.examples ?? {}).map((e) => e.value);
            for (const value of values) {
              const path = template.replace('{id}', 'x1');
              const problems = validator.problemsOf(
                answer(method.toUpperCase(), path, Number(status), { ...headers, 'content-type': mediaType }, value),
              );
              expect({ template, method, status, problems }).toEqual({ template, method, status, problems: [] });
              examples++;
            }
          }
        }
      }
    }
    expect(examples).toBeGreaterThan(100);
  });

  it('reports a status the operation does not declare', () => {
    const problems = validator.problemsOf(answer('GET', '/v1/balance', 404, REQUEST_ID, {}));
    expect(problems).toEqual([expect.stringMatching(/^getBalance \(GET \/v1\/balance\) answered 404, which it does not declare/)]);
  });

  it('reports a header that is not declared, a required header that is missing and a header value outside its schema', () => {
    expect(validator.problemsOf(created({ 'retry-after': '1' }))).toEqual([expect.stringContaining('header retry-after is not declared')]);
    const withoutLocation = created();
    withoutLocation.headers.delete('location');
    expect(validator.problemsOf(withoutLocation)).toEqual([expect.stringContaining('required header location is missing')]);
    expect(
      validator.problemsOf(
        answer('GET', '/v1/balance', 200, { 'content-type': 'application/json' }, { object: 'balance', available: [], pending: [] }),
      ),
    ).toEqual([expect.stringContaining('required header x-request-id is missing')]);
    expect(validator.problemsOf(created({ 'idempotent-replayed': 'false' }))).toEqual([
      expect.stringContaining('header idempotent-replayed: "false" must be equal to one of the allowed values'),
    ]);
  });

  it('reports a body that does not match its schema: a field too many, a number that is not an integer, a missing field', () => {
    expect(validator.problemsOf(created({}, { ...CHARGE, fee: 30 }))).toEqual([
      expect.stringContaining('must NOT have additional properties'),
    ]);
    expect(validator.problemsOf(created({}, { ...CHARGE, amount: 19.99 }))).toEqual([expect.stringContaining('/amount must be integer')]);
    const withoutStatus = { ...CHARGE };
    delete withoutStatus.status;
    expect(validator.problemsOf(created({}, withoutStatus))).toEqual([expect.stringContaining("must have required property 'status'")]);
  });

  it('reports a content type that is not declared', () => {
    expect(validator.problemsOf(created({ 'content-type': 'text/html' }, '<p>hi</p>'))).toEqual([
      expect.stringContaining('content type text/html is not declared'),
    ]);
  });

  it('takes the literal path over a template, and an unknown route only as a 404 or 400 problem', () => {
    const batch = validator.problemsOf(answer('POST', '/v1/charges/batch', 201, REQUEST_ID, {}));
    expect(batch).toEqual([expect.stringMatching(/^createChargeBatch .* answered 201/)]);
    const problem = { type: 'urn:payments:problem:not_found', title: 'Not found', status: 404, detail: 'No route.', code: 'not_found' };
    const problemHeaders = { ...REQUEST_ID, 'content-type': 'application/problem+json; charset=utf-8' };
    expect(validator.problemsOf(answer('DELETE', '/v1/charges/ch_1', 404, problemHeaders, problem))).toEqual([]);
    expect(validator.problemsOf(answer('GET', '/v1/nope', 200, problemHeaders, problem))).toEqual([
      'GET /v1/nope (no operation) answered 200',
    ]);
  });

  it('leaves the documentation routes alone and counts what it checked', () => {
    const counter = new OpenApiResponseValidator(document);
    expect(counter.problemsOf(answer('GET', '/openapi.json', 200, {}, document))).toEqual([]);
    expect(counter.problemsOf(answer('GET', '/docs', 200, {}, '<html>'))).toEqual([]);
    counter.problemsOf(created());
    counter.problemsOf(created({ 'retry-after': '1' }));
    expect(counter.counts).toEqual({ validated: 2, undeclared: 1 });
  });
});
