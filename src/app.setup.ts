import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { DocumentBuilder, SwaggerModule, type OpenAPIObject } from '@nestjs/swagger';
import type { IncomingMessage } from 'node:http';
import type { Logger } from 'pino';
import { AppModule } from './app.module.js';
import { finishDocument } from './common/openapi.js';
import { requestIdOf } from './common/request-id.js';
import { sendProblem } from './common/problem-details.filter.js';
import { RouteNotFoundError, ValidationFailedError } from './common/domain-error.js';
import { BODY_LIMIT_BYTES, inputProblem } from './common/input-limits.js';
import { PROBLEM_CONTENT_TYPE, problemOf } from './common/problem.js';
import type { AppConfig } from './config/app-config.js';
import { createLogger, NestPinoLogger } from './logging/logger.js';
import { MetricsService } from './metrics/metrics.service.js';

/**
 * Builds the application exactly as it serves: Fastify with the body limit and JSON-only bodies,
 * one JSON log format for Fastify's and Nest's lines (logging/logger.ts: a request id, never
 * headers, so never an API key), metrics on every response and the OpenAPI document at
 * /openapi.json and /docs. main.ts and the e2e tests both use it.
 */
export async function createApp(
  config: AppConfig,
  databaseUrl: string,
  logger: Logger = createLogger(config.logLevel),
): Promise<NestFastifyApplication> {
  const adapter = new FastifyAdapter({
    bodyLimit: BODY_LIMIT_BYTES,
    // Requests Node's HTTP parser refuses (bad header bytes, broken framing) still get problem+json.
    clientErrorHandler: (error, socket) => {
      if (!socket.writable) return;
      const body = JSON.stringify(
        problemOf(new ValidationFailedError([], `The HTTP request is malformed (${error.code ?? 'parse error'}).`)),
      );
      socket.end(
        `HTTP/1.1 400 Bad Request\r\nContent-Type: ${PROBLEM_CONTENT_TYPE}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      );
    },
    // Errors Fastify raises before routing (a malformed %-escape, a path parameter over 100
    // characters) are answered as problem+json like every other error.
    frameworkErrors: (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
      const problem =
        error.code === 'FST_ERR_MAX_PARAM_LENGTH'
          ? new RouteNotFoundError(request.method, request.url)
          : new ValidationFailedError([{ field: 'path', message: 'must be a well-formed URL' }], 'The URL is malformed.');
      // The onRequest hook that sets X-Request-Id does not run for these: every answer carries it.
      void reply.header('X-Request-Id', request.id);
      sendProblem(reply, problem);
    },
    // The process's one logger: request lines get `reqId` bound, and its serializers mask URLs.
    loggerInstance: logger,
    // A caller's X-Request-Id is kept when it is sane and no secret; otherwise each request gets a fresh one.
    genReqId: (request: IncomingMessage) => requestIdOf(request, [config.adminToken]),
  });
  const app = await NestFactory.create<NestFastifyApplication>(AppModule.register(config, databaseUrl), adapter, {
    logger: new NestPinoLogger(logger),
    // Fastify's own JSON parser (with prototype-poisoning protection) and no form parser.
    bodyParser: false,
    // A module that fails to start throws here, to the caller (main.ts exits 1 with the message;
    // a test fails with it), instead of Nest calling process.exit(1), which ends a test runner's
    // whole worker and says nothing of why.
    abortOnError: false,
  });

  const fastify = app.getHttpAdapter().getInstance();
  // Bodies are JSON or nothing: drop Fastify's text/plain parser so anything else is a 415.
  fastify.removeContentTypeParser('text/plain');
  // An empty body is no body, whatever Content-Type says: clients that set application/json on
  // every request send it with a DELETE or a POST that takes no parameters (a capture). A body
  // that is there is parsed by Fastify's own parser, prototype-poisoning protection included.
  const parseJson = fastify.getDefaultJsonParser('error', 'error');
  fastify.removeContentTypeParser('application/json');
  fastify.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const text = body.toString();
    if (text === '') return done(null, undefined);
    void parseJson(request, text, done);
  });
  const metrics = app.get(MetricsService);
  fastify.addHook('onRequest', (request, reply, done) => {
    void reply.header('X-Request-Id', request.id);
    done();
  });
  // Before anything else reads the input: refuse what PostgreSQL or recursive code cannot take.
  fastify.addHook('preValidation', (request, _reply, done) => {
    const problem = inputProblem('params', request.params) ?? inputProblem('query', request.query) ?? inputProblem('body', request.body);
    done(problem ? new ValidationFailedError([problem]) : undefined);
  });
  // Graceful shutdown: once closing, every response (the in-flight ones) ends its keep-alive
  // connection, so the server can finish without cutting a request off.
  let closing = false;
  fastify.addHook('preClose', (done) => {
    closing = true;
    done();
  });
  fastify.addHook('onSend', async (_request, reply) => {
    if (closing) void reply.header('connection', 'close');
  });
  fastify.addHook('onResponse', async (request, reply) => {
    metrics.observeHttp(request.method, request.routeOptions.url ?? 'unmatched', reply.statusCode, reply.elapsedTime / 1000);
  });

  SwaggerModule.setup('docs', app, buildOpenApiDocument(app), { jsonDocumentUrl: 'openapi.json', yamlDocumentUrl: 'openapi.yaml' });
  return app;
}

export function buildOpenApiDocument(app: NestFastifyApplication): OpenAPIObject {
  const config = new DocumentBuilder()
    .setTitle('Payments service')
    .setDescription(
      'A retry-safe payment API: every POST takes an Idempotency-Key, and a request retried any number of times moves money exactly once. Errors are RFC 9457 application/problem+json with a stable `code`. The contract is docs/API.md.',
    )
    .setVersion('1')
    .setLicense('MIT', 'https://opensource.org/license/mit')
    // Relative: the service that serves this document, wherever it is deployed (Swagger UI at /docs
    // calls its own host). Clients pass their base URL.
    .addServer('/', 'The service that serves this document; npm start listens on http://localhost:3000 (PORT).')
    .addTag('merchants', 'Merchants and their API keys, created with the admin token.')
    .addTag(
      'api_keys',
      "A merchant's API keys: created, listed, rolled with an overlap, restricted to scopes and revoked, each change in the key's history.",
    )
    .addTag('accounts', "A merchant's customer accounts (wallets): created, or upserted under a client-chosen id with If-Match.")
    .addTag('ledger', 'Money entering an account (deposits) and its double-entry ledger entries.')
    .addTag('charges', "Charges and their lifecycle (authorise, capture, cancel, refund), batches, and the merchant's balance.")
    .addTag('events', "The merchant's events, one per effect, kept 30 days; a webhook's body is one of them.")
    .addTag(
      'webhook_endpoints',
      "Where a merchant's events are sent, signed per Standard Webhooks, at least once, with retries over about three days.",
    )
    .addTag('operations', 'Liveness, readiness and Prometheus metrics, without authentication.')
    // Both are `Authorization: Bearer`; bearerFormat and the description tell them apart.
    .addBearerAuth(
      {
        type: 'http',
        scheme: 'bearer',
        bearerFormat: 'sk_mer_<merchant>.<secret>',
        description: "A merchant's API key (sk_mer_...), shown once when the merchant is created.",
      },
      'api_key',
    )
    .addBearerAuth(
      {
        type: 'http',
        scheme: 'bearer',
        bearerFormat: 'ADMIN_TOKEN',
        description: "The deployment's ADMIN_TOKEN (16+ characters), for POST /v1/merchants only.",
      },
      'admin_token',
    )
    .build();
  return finishDocument(SwaggerModule.createDocument(app, config));
}
