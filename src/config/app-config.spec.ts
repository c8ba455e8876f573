import { ConfigError, loadConfig } from './app-config.js';

describe('loadConfig', () => {
  it('applies the contract defaults', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      port: 3000,
      databaseUrl: undefined,
      idempotencyTtlSeconds: 86400,
      rateLimitPerSecond: 100,
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
      LOG_LEVEL: 'DEBUG',
    });
    expect(config).toMatchObject({
      port: 8080,
      databaseUrl: 'postgres://u@h/db',
      adminToken: 'a-very-long-admin-token',
      adminTokenGenerated: false,
      idempotencyTtlSeconds: 60,
      rateLimitPerSecond: 0,
      logLevel: 'debug',
    });
  });

  it.each([
    ['PORT', 'abc'],
    ['PORT', '70000'],
    ['DATABASE_URL', 'mysql://x'],
    ['ADMIN_TOKEN', 'short'],
    ['IDEMPOTENCY_TTL_SECONDS', '0'],
    ['RATE_LIMIT_PER_SECOND', '-1'],
    ['LOG_LEVEL', 'verbose'],
  ])('rejects %s=%s with a message naming the variable', (name, value) => {
    expect(() => loadConfig({ [name]: value })).toThrow(ConfigError);
    expect(() => loadConfig({ [name]: value })).toThrow(name);
  });
});
