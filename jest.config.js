// Jest runs the TypeScript sources as native ES modules (node --experimental-vm-modules, see
// package.json). Unit specs sit beside the code (src/**/*.spec.ts); end-to-end specs drive the
// real AppModule over HTTP against a real PostgreSQL (test/**/*.e2e-spec.ts).
export default {
  testEnvironment: 'node',
  roots: ['<rootDir>/src', '<rootDir>/test'],
  testRegex: '.*\\.(spec|e2e-spec)\\.ts$',
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: {
    '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: 'tsconfig.json' }],
    // content-disposition 3 is ESM-only but is require()d by @fastify/static (which serves /docs);
    // Jest on Node 20 cannot require ESM, so that one package is compiled to CommonJS for the tests.
    'node_modules/content-disposition/.+\\.js$': [
      'ts-jest',
      { useESM: false, tsconfig: { allowJs: true, module: 'commonjs', moduleResolution: 'node10', ignoreDeprecations: '6.0' } },
    ],
  },
  transformIgnorePatterns: ['/node_modules/(?!content-disposition/)'],
  globalSetup: '<rootDir>/test/setup/global-setup.js',
  globalTeardown: '<rootDir>/test/setup/global-teardown.js',
  setupFilesAfterEnv: ['<rootDir>/test/setup/ledger-invariants-after-suite.ts'],
  testTimeout: 60000,
};
