import { Ajv, type ValidateFunction } from 'ajv';
import { readFileSync } from 'node:fs';

// Every response an e2e suite receives through TestApp.request is checked against the committed
// openapi.json (which test/client.e2e-spec.ts keeps equal to the served document): the status is
// declared for the operation, every header is declared and every required one is there, and the
// body matches the declared media type and schema. So the document cannot drift from what the
// service does without a test failing.

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

interface Document {
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, JsonObject>; headers: Record<string, Header> };
}

interface Operation {
  operationId: string;
  responses: Record<string, ResponseObject>;
}

interface ResponseObject {
  headers?: Record<string, Header | Reference>;
  content?: Record<string, { schema: JsonObject }>;
}

interface Header {
  required?: boolean;
  schema: JsonObject;
}

interface Reference {
  $ref: string;
}

export interface ReceivedResponse {
  method: string;
  /** The path as sent, query string included. */
  path: string;
  status: number;
  headers: Headers;
  text: string;
}

/** Headers any HTTP server adds, which the document need not declare. */
const TRANSPORT_HEADERS = new Set(['date', 'connection', 'keep-alive', 'content-length', 'transfer-encoding', 'content-type']);

/**
 * Served by SwaggerModule next to the API and not part of what the document describes: the
 * document itself and Swagger UI.
 */
const DOCUMENTATION_ROUTE = /^\/(?:openapi\.(?:json|yaml)|docs(?:[/?#-]|$))/;

const SCHEMAS_ID = 'openapi-schemas';

/**
 * OpenAPI 3.0 schema → JSON Schema for Ajv: `nullable` becomes a `null` alternative, component
 * references point into the registered components, and, for responses, objects are closed, so a
 * field the document does not declare is reported too (the document itself leaves response
 * objects open, so that adding a field never breaks a client).
 */
function toJsonSchema(schema: Json, closeObjects: boolean): Json {
  if (Array.isArray(schema)) return schema.map((item) => toJsonSchema(item, closeObjects));
  if (schema === null || typeof schema !== 'object') return schema;
  const converted: JsonObject = {};
  for (const [keyword, value] of Object.entries(schema)) {
    if (keyword === 'nullable' || keyword === 'example' || keyword === 'examples') continue;
    if (keyword === '$ref' && typeof value === 'string') {
      converted.$ref = value.replace('#/components/schemas/', `${SCHEMAS_ID}#/definitions/`);
    } else if (keyword === 'properties' || keyword === 'definitions') {
      converted[keyword] = Object.fromEntries(
        Object.entries(value as JsonObject).map(([name, property]) => [name, toJsonSchema(property, closeObjects)]),
      );
    } else {
      converted[keyword] = toJsonSchema(value, closeObjects);
    }
  }
  if (closeObjects && converted.properties && converted.additionalProperties === undefined) converted.additionalProperties = false;
  return schema.nullable === true ? { anyOf: [converted, { type: 'null' }] } : converted;
}

function isReference(value: unknown): value is Reference {
  return typeof value === 'object' && value !== null && '$ref' in value;
}

function mediaTypeOf(contentType: string | null): string | undefined {
  return contentType?.split(';')[0]?.trim().toLowerCase() || undefined;
}

/** The path templates of the document as patterns, literal segments before parameters. */
function templatesOf(document: Document): { template: string; pattern: RegExp; parameters: number }[] {
  return Object.keys(document.paths)
    .map((template) => ({
      template,
      pattern: new RegExp(`^${template.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/\\\{[^}]+\\\}/g, '[^/]+')}$`),
      parameters: (template.match(/\{/g) ?? []).length,
    }))
    .sort((a, b) => a.parameters - b.parameters);
}

export class OpenApiResponseValidator {
  private readonly ajv: Ajv;
  private readonly templates: ReturnType<typeof templatesOf>;
  private readonly compiled = new Map<string, ValidateFunction>();
  /** Responses checked (documentation routes aside), and those the document does not declare. */
  readonly counts = { validated: 0, undeclared: 0 };
  /** The declared responses (`operationId status`) that were seen, valid. */
  readonly seen = new Set<string>();

  constructor(private readonly document: Document) {
    this.ajv = new Ajv({ allErrors: true, strict: true });
    this.ajv.addFormat('int64', { type: 'number', validate: (value: number) => Number.isInteger(value) });
    this.ajv.addFormat('date-time', (value: string) => /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})$/.test(value));
    this.ajv.addSchema({ $id: SCHEMAS_ID, definitions: toJsonSchema(document.components.schemas, true) });
    this.templates = templatesOf(document);
  }

  static fromFile(path = 'openapi.json'): OpenApiResponseValidator {
    return new OpenApiResponseValidator(JSON.parse(readFileSync(path, 'utf8')) as Document);
  }

  /** What is wrong with a response, or an empty list when the document declares it. */
  problemsOf(response: ReceivedResponse): string[] {
    const path = response.path.split('?')[0] ?? '';
    if (DOCUMENTATION_ROUTE.test(path)) return [];
    const problems = this.problemsOfOperation(response, path);
    this.counts.validated++;
    if (problems.length > 0) this.counts.undeclared++;
    return problems;
  }

  private problemsOfOperation(response: ReceivedResponse, path: string): string[] {
    const method = response.method.toLowerCase();

    const template = this.templates.find(({ template, pattern }) => pattern.test(path) && this.document.paths[template]?.[method]);
    if (!template) {
      // No such operation: the service answers 404 not_found, or 400 for a malformed URL, as problem+json.
      if (response.status !== 404 && response.status !== 400)
        return [`${response.method} ${path} (no operation) answered ${response.status}`];
      return this.check(`${response.method} ${path} (no operation) ${response.status}`, this.unknownRouteResponse(), response);
    }
    const operation = this.document.paths[template.template]![method]!;
    const declared = operation.responses[String(response.status)];
    const name = `${operation.operationId} (${response.method} ${template.template})`;
    if (!declared) {
      return [
        `${name} answered ${response.status}, which it does not declare (it declares ${Object.keys(operation.responses).join(', ')})`,
      ];
    }
    const problems = this.check(`${name} ${response.status}`, declared, response);
    if (problems.length === 0) this.seen.add(`${operation.operationId} ${response.status}`);
    return problems;
  }

  private unknownRouteResponse(): ResponseObject {
    return {
      headers: { 'X-Request-Id': { $ref: '#/components/headers/X-Request-Id' } },
      content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/ProblemDetailsDto' } } },
    };
  }

  private check(name: string, declared: ResponseObject, response: ReceivedResponse): string[] {
    const problems: string[] = [];

    const headers = new Map<string, Header>();
    for (const [header, definition] of Object.entries(declared.headers ?? {})) {
      headers.set(header.toLowerCase(), isReference(definition) ? this.headerAt(definition.$ref) : definition);
    }
    for (const [header, value] of response.headers) {
      if (TRANSPORT_HEADERS.has(header)) continue;
      const definition = headers.get(header);
      if (!definition) {
        problems.push(`${name}: header ${header} is not declared`);
        continue;
      }
      const typed = definition.schema.type === 'integer' && /^-?\d+$/.test(value) ? Number(value) : value;
      const errors = this.validate(definition.schema, typed);
      if (errors) problems.push(`${name}: header ${header}: ${JSON.stringify(value)} ${errors}`);
    }
    for (const [header, definition] of headers) {
      if (definition.required && !response.headers.has(header)) problems.push(`${name}: required header ${header} is missing`);
    }

    const mediaType = mediaTypeOf(response.headers.get('content-type'));
    if (!declared.content) {
      if (response.text !== '') problems.push(`${name}: a body is sent but none is declared`);
      return problems;
    }
    const media = mediaType && declared.content[mediaType];
    if (!media) {
      problems.push(`${name}: content type ${mediaType ?? '(none)'} is not declared (${Object.keys(declared.content).join(', ')})`);
      return problems;
    }
    let body: unknown = response.text;
    if (mediaType.endsWith('json')) {
      try {
        body = JSON.parse(response.text);
      } catch {
        problems.push(`${name}: the ${mediaType} body is not JSON`);
        return problems;
      }
    }
    const errors = this.validate(media.schema, body);
    if (errors) problems.push(`${name}: body ${errors}`);
    return problems;
  }

  private headerAt(ref: string): Header {
    const header = this.document.components.headers[ref.replace('#/components/headers/', '')];
    if (!header) throw new Error(`openapi.json: no header at ${ref}`);
    return header;
  }

  /** Ajv's errors in one line, or undefined when the value is valid. */
  private validate(schema: JsonObject, value: unknown): string | undefined {
    const key = JSON.stringify(schema);
    let validate = this.compiled.get(key);
    if (!validate) {
      validate = this.ajv.compile(toJsonSchema(schema, true) as JsonObject);
      this.compiled.set(key, validate);
    }
    if (validate(value)) return undefined;
    return (validate.errors ?? [])
      .map((error) => {
        const extra = (error.params as { additionalProperty?: string }).additionalProperty;
        return `${error.instancePath ? `${error.instancePath} ` : ''}${error.message ?? 'is invalid'}${extra ? ` (${extra})` : ''}`;
      })
      .join('; ');
  }
}

let shared: OpenApiResponseValidator | undefined;

/** One validator per test file (the document is read and compiled once). */
export function responseValidator(): OpenApiResponseValidator {
  shared ??= OpenApiResponseValidator.fromFile();
  return shared;
}

/** Responses this test file checked so far, how many the document does not declare, and which declared ones it saw. */
export function responseCounts(): { validated: number; undeclared: number; seen: string[] } {
  return { validated: 0, undeclared: 0, ...shared?.counts, seen: [...(shared?.seen ?? [])] };
}
