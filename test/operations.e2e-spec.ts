import { MerchantClient, TestApp } from './support/test-app.js';

describe('operations', () => {
  let app: TestApp;
  let merchant: MerchantClient;

  beforeAll(async () => {
    app = await TestApp.start();
    merchant = await app.merchant('operations');
  });
  afterAll(() => app.close());

  it('answers liveness and readiness without authentication', async () => {
    expect(await app.request('GET', '/health/live')).toMatchObject({ status: 200, body: { status: 'ok' } });
    expect(await app.request('GET', '/health/ready')).toMatchObject({ status: 200, body: { status: 'ok' } });
  });

  it('echoes a sane X-Request-Id and makes one up otherwise', async () => {
    const given = await app.request('GET', '/health/live', { headers: { 'x-request-id': 'trace-123' } });
    expect(given.headers.get('x-request-id')).toBe('trace-123');
    const made = await app.request('GET', '/health/live', { headers: { 'x-request-id': 'bad id with spaces' } });
    expect(made.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('exposes Prometheus metrics by route and status, and the idempotency and charge outcomes', async () => {
    const source = await merchant.account(1_000);
    await merchant.post('/v1/charges', { amount: 10, currency: 'usd', source }, 'metrics-key');
    await merchant.post('/v1/charges', { amount: 10, currency: 'usd', source }, 'metrics-key');
    await merchant.post('/v1/charges', { amount: 11, currency: 'usd', source }, 'metrics-key');
    await merchant.post('/v1/charges', { amount: 10_000, currency: 'usd', source });
    const metrics = await app.request('GET', '/metrics');
    expect(metrics.status).toBe(200);
    expect(metrics.headers.get('content-type')).toContain('text/plain');
    const text = metrics.text;
    expect(text).toMatch(/http_requests_total\{method="POST",route="\/v1\/charges",status="201"\} \d+/);
    expect(text).toMatch(/http_request_duration_seconds_bucket\{le="[0-9.]+",method="POST",route="\/v1\/charges",status="201"\}/);
    expect(text).toMatch(/idempotency_requests_total\{outcome="new"\} \d+/);
    expect(text).toMatch(/idempotency_requests_total\{outcome="replayed"\} [1-9]/);
    expect(text).toMatch(/idempotency_requests_total\{outcome="mismatch"\} [1-9]/);
    expect(text).toMatch(/charges_total\{kind="wallet",outcome="succeeded"\} [1-9]/);
    expect(text).toMatch(/charges_total\{kind="wallet",outcome="insufficient_funds"\} [1-9]/);
    expect(text).toMatch(/charge_duration_seconds_count [1-9]/);
  });

  it('serves the OpenAPI document and Swagger UI, generated from the code', async () => {
    const reply = await app.request('GET', '/openapi.json');
    expect(reply.status).toBe(200);
    const doc = reply.body;
    expect(doc.openapi).toMatch(/^3\./);
    expect(Object.keys(doc.paths).sort()).toEqual(
      [
        '/health/live',
        '/health/ready',
        '/metrics',
        '/v1/accounts',
        '/v1/accounts/{id}',
        '/v1/api_keys',
        '/v1/api_keys/{id}',
        '/v1/api_keys/{id}/roll',
        '/v1/accounts/{id}/deposits',
        '/v1/accounts/{id}/entries',
        '/v1/balance',
        '/v1/charges',
        '/v1/charges/{id}',
        '/v1/charges/{id}/capture',
        '/v1/charges/{id}/cancel',
        '/v1/charges/{id}/refunds',
        '/v1/events',
        '/v1/events/{id}',
        '/v1/events/{id}/redeliver',
        '/v1/charges/batch',
        '/v1/merchants',
        '/v1/merchants/{merchant_id}/api_keys',
        '/v1/merchants/{merchant_id}/api_keys/{id}',
        '/v1/webhook_endpoints',
        '/v1/webhook_endpoints/{id}',
        '/v1/webhook_endpoints/{id}/disable',
        '/v1/webhook_endpoints/{id}/roll_secret',
      ].sort(),
    );
    const createCharge = doc.paths['/v1/charges'].post;
    expect(createCharge.operationId).toBe('createCharge');
    expect(createCharge.parameters).toContainEqual(expect.objectContaining({ name: 'Idempotency-Key', in: 'header', required: true }));
    expect(Object.keys(createCharge.responses).sort()).toEqual([
      '201',
      '202',
      '400',
      '401',
      '402',
      '403',
      '404',
      '409',
      '413',
      '415',
      '422',
      '429',
      '500',
      '503',
    ]);
    expect(Object.keys(createCharge.responses['201'].headers).sort()).toEqual([
      'Idempotency-Expires',
      'Idempotent-Replayed',
      'Location',
      'X-Request-Id',
    ]);
    expect(createCharge.responses['409'].headers).toHaveProperty('Retry-After');
    expect(createCharge.responses['402'].headers).toHaveProperty('Idempotency-Expires');
    expect(createCharge.responses['402'].content).toHaveProperty(['application/problem+json']);
    expect(createCharge.responses['401'].headers).toHaveProperty('WWW-Authenticate');
    // A card charge still waiting for its acquirer: the pending charge, where to poll, when to repeat.
    expect(Object.keys(createCharge.responses['202'].headers).sort()).toEqual(['Location', 'Retry-After', 'X-Request-Id']);
    expect(createCharge.responses['202'].headers).not.toHaveProperty('Idempotency-Expires');
    expect(Object.keys(createCharge.responses['402'].content['application/problem+json'].examples).sort()).toEqual([
      'card_declined',
      'insufficient_funds',
    ]);
    expect(createCharge.responses['503'].content['application/problem+json'].examples).toHaveProperty('acquirer_unavailable');
    const put = doc.paths['/v1/accounts/{id}'].put;
    expect(put.parameters).toContainEqual(expect.objectContaining({ name: 'Idempotency-Key', required: false }));
    expect(Object.keys(put.responses)).toEqual(expect.arrayContaining(['200', '201', '412', '428']));
    expect(put.responses['428'].headers).toHaveProperty('ETag');
    // source or payment_method, exactly one: the handler says so (400), the schema cannot.
    expect(doc.components.schemas.CreateChargeDto.required).toEqual(['amount', 'currency']);
    expect(doc.components.schemas.CreateChargeDto.properties.capture).not.toHaveProperty('default');
    expect(doc.components.schemas.ProblemDetailsDto.properties.code.enum).toContain('idempotency_key_reused');
    expect(doc.paths['/v1/charges/{id}/refunds'].post.responses['409'].headers).toHaveProperty('Retry-After');
    expect(doc.paths['/v1/charges/{id}/capture'].post.requestBody.required).toBe(false);
    expect(doc.paths['/v1/charges/batch'].post.responses['200'].content['application/json'].schema.$ref).toBe(
      '#/components/schemas/BatchResultDto',
    );
    expect(doc.components.schemas.BatchChargesDto.properties.charges.maxItems).toBe(100);
    // Request schemas are closed, as the ValidationPipe refuses unknown fields.
    for (const name of [
      'CreateChargeDto',
      'BatchChargesDto',
      'CaptureChargeDto',
      'CreateRefundDto',
      'AccountFieldsDto',
      'CreateDepositDto',
    ]) {
      expect(doc.components.schemas[name].additionalProperties).toBe(false);
    }
    const operationIds: string[] = [];
    for (const [path, operations] of Object.entries(
      doc.paths as Record<
        string,
        Record<string, { operationId: string; security: unknown[]; responses: Record<string, { headers: object }> }>
      >,
    )) {
      for (const operation of Object.values(operations)) {
        operationIds.push(operation.operationId);
        // Every operation says how it is authenticated; health and metrics need nothing.
        expect(operation.security).toEqual(path.startsWith('/v1/') ? [expect.any(Object)] : []);
        // Every operation that touches the database documents 503; authenticated ones 401, 429 and 500.
        if (!['/health/live', '/metrics'].includes(path)) expect(Object.keys(operation.responses)).toContain('503');
        if (path.startsWith('/v1/')) expect(Object.keys(operation.responses)).toEqual(expect.arrayContaining(['401', '429', '500']));
        for (const response of Object.values(operation.responses)) expect(response.headers).toHaveProperty('X-Request-Id');
      }
    }
    expect(operationIds.sort()).toEqual(
      [
        'cancelCharge',
        'captureCharge',
        'checkLiveness',
        'checkReadiness',
        'createAccount',
        'createCharge',
        'createChargeBatch',
        'createDeposit',
        'createMerchant',
        'getAccount',
        'getBalance',
        'getCharge',
        'getMetrics',
        'listAccountEntries',
        'listAccounts',
        'listCharges',
        'refundCharge',
        'upsertAccount',
        'createApiKey',
        'listApiKeys',
        'getApiKey',
        'rollApiKey',
        'revokeApiKey',
        'createMerchantApiKey',
        'revokeMerchantApiKey',
        'listEvents',
        'getEvent',
        'redeliverEvent',
        'createWebhookEndpoint',
        'listWebhookEndpoints',
        'getWebhookEndpoint',
        'updateWebhookEndpoint',
        'disableWebhookEndpoint',
        'rollWebhookEndpointSecret',
        'deleteWebhookEndpoint',
      ].sort(),
    );

    const docs = await app.request('GET', '/docs');
    expect(docs.status).toBe(200);
    expect(docs.text).toContain('swagger');
  });
});
