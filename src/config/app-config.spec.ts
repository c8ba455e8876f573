import { ConfigError, loadConfig } from './app-config.js';

describe('loadConfig', () => {
  it('applies the contract defaults', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      port: 3000,
      databaseUrl: undefined,
      idempotencyTtlSeconds: 86400,
      rateLimitPerSecond: 100,
      redisUrl: undefined,
      redisKeyPrefix: 'payments',
      preparedStatements: true,
      databasePoolIdleSeconds: 300,
      logLevel: 'info',
      adminTokenGenerated: true,
    });
    expect(config.adminToken.length).toBeGreaterThanOrEqual(32);
  });

  it('reads every variable', () => {
    const config = loadConfig({
      PORT: '8080',
      DATABASE_URL: 'postgres://u@h/db',
      ADMIN_TOKEN: 'a-very-long-admin-token',
      IDEMPOTENCY_TTL_SECONDS: '60',
      RATE_LIMIT_PER_SECOND: '0',
      REDIS_URL: 'redis://:secret@127.0.0.1:6379/2',
      REDIS_KEY_PREFIX: 'acme-eu',
      DATABASE_PREPARED_STATEMENTS: 'off',
      DATABASE_POOL_IDLE_SECONDS: '0',
      LOG_LEVEL: 'DEBUG',
    });
    expect(config).toMatchObject({
      port: 8080,
      databaseUrl: 'postgres://u@h/db',
      adminToken: 'a-very-long-admin-token',
      adminTokenGenerated: false,
      idempotencyTtlSeconds: 60,
      rateLimitPerSecond: 0,
      redisUrl: 'redis://:secret@127.0.0.1:6379/2',
      redisKeyPrefix: 'acme-eu',
      preparedStatements: false,
      databasePoolIdleSeconds: 0,
      logLevel: 'debug',
    });
  });

  it('takes rediss:// (TLS) and on/off in any case', () => {
    expect(loadConfig({ REDIS_URL: 'rediss://cache.internal:6380' }).redisUrl).toBe('rediss://cache.internal:6380');
    expect(loadConfig({ DATABASE_PREPARED_STATEMENTS: 'ON' }).preparedStatements).toBe(true);
    expect(loadConfig({ DATABASE_PREPARED_STATEMENTS: 'false' }).preparedStatements).toBe(false);
  });

  it('never repeats a REDIS_URL (it may hold a password) in its message', () => {
    expect(() => loadConfig({ REDIS_URL: 'http://:hunter2-secret@host' })).toThrow(/^(?!.*hunter2)/);
  });

  it.each([
    ['PORT', 'abc'],
    ['PORT', '70000'],
    ['DATABASE_URL', 'mysql://x'],
    ['ADMIN_TOKEN', 'short'],
    ['IDEMPOTENCY_TTL_SECONDS', '0'],
    ['RATE_LIMIT_PER_SECOND', '-1'],
    ['LOG_LEVEL', 'verbose'],
    ['REDIS_URL', '127.0.0.1:6379'],
    ['REDIS_URL', 'http://127.0.0.1:6379'],
    ['REDIS_URL', 'redis://'],
    ['REDIS_KEY_PREFIX', 'has space'],
    ['DATABASE_PREPARED_STATEMENTS', 'maybe'],
    ['DATABASE_POOL_IDLE_SECONDS', '-1'],
    ['DATABASE_POOL_IDLE_SECONDS', '86401'],
  ])('rejects %s=%s with a message naming the variable', (name, value) => {
    expect(() => loadConfig({ [name]: value })).toThrow(ConfigError);
    expect(() => loadConfig({ [name]: value })).toThrow(name);
  });

  it("reads the card charges' variables, with their defaults", () => {
    expect(loadConfig({})).toMatchObject({
      acquirerUrl: 'http://127.0.0.1:4100',
      acquirerTimeoutMs: 10_000,
      chargeWaitMs: 5_000,
      idempotencyLeaseSeconds: 30,
      completerEnabled: false,
      completerGraceSeconds: 60,
    });
    expect(
      loadConfig({
        ACQUIRER_URL: 'http://acquirer:4100/',
        ACQUIRER_TIMEOUT_MS: '2000',
        CHARGE_WAIT_MS: '0',
        IDEMPOTENCY_LEASE_SECONDS: '8',
        COMPLETER_ENABLED: 'on',
        COMPLETER_GRACE_SECONDS: '5',
      }),
    ).toMatchObject({
      acquirerUrl: 'http://acquirer:4100',
      acquirerTimeoutMs: 2_000,
      chargeWaitMs: 0,
      idempotencyLeaseSeconds: 8,
      completerEnabled: true,
    });
  });

  it("refuses the card charges' test-only hooks unless NODE_ENV=test", () => {
    for (const env of [
      { CARD_CHARGE_CRASH_AT: 'after_tx1' },
      { CARD_CHARGE_CRASH_AT: 'in_call', NODE_ENV: 'production' },
      { CARD_CHARGE_STRIP_ACQUIRER_KEY: 'on' },
      { CARD_CHARGE_CRASH_PROBABILITY: '0.5' },
    ])
      expect(() => loadConfig(env)).toThrow(/test-only hooks, refused unless NODE_ENV=test/);
    expect(loadConfig({})).toMatchObject({ cardChargeCrash: undefined, acquirerKeyStripped: false });
    expect(
      loadConfig({
        NODE_ENV: 'test',
        CARD_CHARGE_CRASH_AT: 'after_tx2, after_tx3',
        CARD_CHARGE_CRASH_PROBABILITY: '0.25',
        CARD_CHARGE_CRASH_SEED: '7',
        CARD_CHARGE_STRIP_ACQUIRER_KEY: 'on',
      }),
    ).toMatchObject({ cardChargeCrash: { points: ['after_tx2', 'after_tx3'], probability: 0.25, seed: 7 }, acquirerKeyStripped: true });
    expect(loadConfig({ NODE_ENV: 'test', CARD_CHARGE_CRASH_AT: 'in_call' }).cardChargeCrash).toEqual({
      points: ['in_call'],
      probability: 1,
      seed: 0,
    });
    expect(() => loadConfig({ NODE_ENV: 'test', CARD_CHARGE_CRASH_AT: 'before_tx1' })).toThrow(/CARD_CHARGE_CRASH_AT: unknown before_tx1/);
    expect(() => loadConfig({ NODE_ENV: 'test', CARD_CHARGE_CRASH_AT: 'after_tx1', CARD_CHARGE_CRASH_PROBABILITY: '2' })).toThrow(
      /CARD_CHARGE_CRASH_PROBABILITY/,
    );
  });

  it('refuses a lease that does not outlast the acquirer call and the transaction after it', () => {
    expect(() => loadConfig({ ACQUIRER_TIMEOUT_MS: '10000', IDEMPOTENCY_LEASE_SECONDS: '15' })).toThrow(
      /IDEMPOTENCY_LEASE_SECONDS \(15\) must exceed ACQUIRER_TIMEOUT_MS/,
    );
    expect(() => loadConfig({ ACQUIRER_TIMEOUT_MS: '10000', IDEMPOTENCY_LEASE_SECONDS: '16' })).not.toThrow();
    expect(() => loadConfig({ ACQUIRER_URL: 'ftp://x' })).toThrow(ConfigError);
    expect(() => loadConfig({ ACQUIRER_URL: 'not a url' })).toThrow(/ACQUIRER_URL/);
  });
});
