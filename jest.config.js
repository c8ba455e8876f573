// Jest runs the TypeScript sources as native ES modules (node --experimental-vm-modules, see
// package.json). Unit specs sit beside the code (src/**/*.spec.ts, acquirer/**/*.spec.ts);
// end-to-end specs drive the real AppModule over HTTP against a real PostgreSQL
// (test/**/*.e2e-spec.ts).
export default {
  testEnvironment: 'node',
  roots: ['<rootDir>/src', '<rootDir>/test', '<rootDir>/acquirer'],
  testRegex: '.*\\.(spec|e2e-spec)\\.ts$',
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: {
    '^(\\.{1,2}/.*)\\.js$': '$1',
    '^content-disposition$': '<rootDir>/test/support/content-disposition.cjs',
  },
  transform: { '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: 'tsconfig.json' }] },
  globalSetup: '<rootDir>/test/setup/global-setup.js',
  globalTeardown: '<rootDir>/test/setup/global-teardown.js',
  setupFilesAfterEnv: ['<rootDir>/test/setup/ledger-invariants-after-suite.ts', '<rootDir>/test/setup/openapi-responses-after-suite.ts'],
  testTimeout: 60000,
};
