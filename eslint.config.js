'use strict';
// Lint: typescript-eslint's type-aware rules (floating promises above all: a Node daemon that drops a
// rejected promise loses an error or a lifecycle step), exhaustive switches, no `.only` left in tests,
// and process.exit only in entry points.
const js = require('@eslint/js');
const tseslint = require('typescript-eslint');

const entryPoints = ['shim/main.ts', 'supervisor/main.ts', 'supervisor/cli/main.ts', 'bench/**/*.ts', 'test/fixtures/**/*.ts'];

module.exports = tseslint.config(
  { ignores: ['**/node_modules/**', 'dist/**', 'ttrpc/dist/**', 'proto/gen/**', '.tmp/**'] },
  js.configs.recommended,
  {
    files: ['**/*.ts'],
    extends: [...tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: __dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': ['error', { considerDefaultExhaustiveForUnions: true }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/only-throw-error': 'error',
      '@typescript-eslint/prefer-promise-reject-errors': 'error',
      'no-restricted-properties': ['error', { object: 'process', property: 'exit', message: 'process.exit belongs in entry points only' }],
      'no-restricted-syntax': [
        'error',
        { selector: "CallExpression[callee.object.name=/^(it|describe|context)$/][callee.property.name='only']", message: 'Remove .only before committing' },
      ],
      eqeqeq: ['error', 'always', { null: 'ignore' }],
    },
  },
  {
    // Every child of the shim goes through the one exit monitor (shim/reaper/monitor.ts): a child
    // started elsewhere would be reaped by the reaper and its exit never reported by libuv. The
    // `start` action (start.ts, spare-client.ts) has no reaper: it spawns detached daemons and exits.
    files: ['shim/**/*.ts'],
    ignores: ['shim/reaper/monitor.ts', 'shim/manager/start.ts', 'shim/manager/spare-client.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: ['child_process', 'node:child_process'].map((name) => ({
            name,
            message: 'start children through the ProcessMonitor (shim/reaper/monitor.ts)',
            allowTypeImports: true,
          })),
        },
      ],
    },
  },
  {
    files: entryPoints,
    rules: { 'no-restricted-properties': 'off' },
  },
  {
    files: ['test/**/*.ts', 'ttrpc/test/**/*.ts'],
    rules: {
      // chai-less assertions with node:assert and sinon stubs are idiomatic in tests
      '@typescript-eslint/no-unused-expressions': 'off',
      '@typescript-eslint/unbound-method': 'off',
    },
  },
  {
    files: ['**/*.js'],
    languageOptions: {
      sourceType: 'commonjs',
      globals: { require: 'readonly', module: 'writable', __dirname: 'readonly', process: 'readonly', console: 'readonly', Buffer: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly' },
    },
  },
);
