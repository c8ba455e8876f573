// Type-aware lint: the rules that catch the bugs that matter in this codebase (an un-awaited
// promise inside a transaction, a non-exhaustive switch, loose equality).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: [
      'dist/',
      'node_modules/',
      '.data/',
      'coverage/',
      'test/support/content-disposition.cjs',
      'clients/typescript/dist/',
      'examples/checkout/dist/',
      // Generated from openapi.json (npm run generate -w clients/typescript).
      'clients/typescript/src/schema.ts',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
      eqeqeq: 'error',
    },
  },
  {
    // Who may import whom (docs/architecture.md). The service never imports what tests, the chaos
    // harness, the bench or the examples are made of; a module reaches another only through what
    // that module's Nest module exports (its services), its errors, DTOs and decorators — never its
    // repositories, controllers, guards or interceptors.
    files: ['src/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/test/**', '**/testing/**', '**/chaos/**', '**/bench/**', '**/examples/**', '**/clients/**', '**/acquirer/**'],
              message: 'The service never imports tests, harnesses, the bench, examples, clients or the simulated acquirer.',
            },
            {
              regex: '^\\.\\./[a-z-]+/.*\\.(repository|controller|guard|interceptor)\\.js$',
              message: "Another module's repositories, controllers, guards and interceptors are its own: use what its module exports.",
            },
          ],
        },
      ],
      'no-restricted-syntax': [
        'error',
        {
          selector: "MemberExpression[property.name=/^(transaction|query|createQueryRunner|manager)$/][object.name='dataSource'], MemberExpression[property.name=/^(transaction|query|createQueryRunner|manager)$/][object.property.name='dataSource']",
          message:
            'Requests talk to PostgreSQL through Sql and SqlTransaction (database/sql.ts): they classify database failures and never reuse a connection that failed. The DataSource is for migrations.',
        },
      ],
    },
  },
  {
    // Tests share helpers through testing/, never through the chaos harness (whose own logic has its
    // self-tests: the checker's in test/chaos-checker.e2e-spec.ts, scenario 18's failover clock's in
    // test/chaos-failover-time.spec.ts).
    files: ['test/**/*.ts', 'bench/**/*.ts', 'testing/**/*.ts'],
    ignores: ['test/chaos-checker.e2e-spec.ts', 'test/chaos-failover-time.spec.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['**/chaos/**'], message: 'Shared test helpers live in testing/.' }] }],
    },
  },
  {
    // The simulated acquirer is a program of its own, outside the service: it shares no code with it.
    files: ['acquirer/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [{ group: ['../*'], message: 'The acquirer is a separate program: it imports only from acquirer/ and node_modules.' }],
        },
      ],
    },
  },
  {
    // The DataSource's own use: migrations.
    files: ['src/database/migrate.ts', 'src/database/migration-cli.ts'],
    rules: { 'no-restricted-syntax': 'off' },
  },
  {
    // Tests read JSON bodies of any shape; typing every one would bury what they check.
    files: ['test/**/*.ts', '**/*.spec.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-explicit-any': 'off',
    },
  },
  { files: ['**/*.js', '**/*.mjs'], ...tseslint.configs.disableTypeChecked },
  { files: ['test/setup/*.js'], languageOptions: { globals: { process: 'readonly', URL: 'readonly', console: 'readonly' } } },
);
