// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

// Workflow code runs in Temporal's deterministic sandbox and is replayed from history: it must not
// reach Node built-ins, do I/O, or import the client libraries that do. Date and Math.random are
// safe there: the sandbox replaces them with deterministic versions (the clock is the workflow
// task's time, the same on replay).
const nodeBuiltins = [
  'assert', 'async_hooks', 'buffer', 'child_process', 'cluster', 'console', 'crypto', 'dgram', 'dns',
  'events', 'fs', 'fs/promises', 'http', 'http2', 'https', 'inspector', 'module', 'net', 'os', 'path',
  'perf_hooks', 'process', 'querystring', 'readline', 'repl', 'stream', 'string_decoder', 'timers',
  'tls', 'tty', 'url', 'util', 'v8', 'vm', 'worker_threads', 'zlib',
];
const workflowForbiddenImports = {
  paths: nodeBuiltins.map((name) => ({ name, message: 'workflows/ must be deterministic: no Node built-ins.' })),
  patterns: [
    { group: ['node:*'], message: 'workflows/ must be deterministic: no Node built-ins.' },
    {
      group: ['@kubernetes/*', '@gitbeaker/*', '@temporalio/client', '@temporalio/worker', '@temporalio/activity'],
      message: 'workflows/ must not do I/O: call an activity instead.',
    },
    {
      group: ['**/activities', '**/activities/**'],
      allowTypeImports: true,
      message: 'workflows/ import activities as types only (proxyActivities<typeof activities>).',
    },
  ],
};

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', '.test-build/**', 'coverage/**', 'test-artifacts/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { parserOptions: { projectService: false } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', workflowForbiddenImports],
      'no-restricted-globals': [
        'error',
        { name: 'process', message: 'workflows/ must be deterministic: no process.' },
        { name: 'require', message: 'workflows/ must be deterministic: use imports.' },
        { name: 'fetch', message: 'workflows/ must not do I/O: call an activity instead.' },
        { name: 'setInterval', message: 'use sleep() or condition() from @temporalio/workflow.' },
        { name: 'Buffer', message: 'workflows/ must be deterministic: no Node built-ins.' },
        { name: '__dirname', message: 'workflows/ must not touch the file system.' },
      ],
    },
  },
  {
    files: ['**/*.js', '**/*.mjs', '**/*.cjs'],
    languageOptions: { globals: { module: 'writable', require: 'readonly', __dirname: 'readonly', process: 'readonly', console: 'readonly' } },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    // One adapter module per external system imports its client library: Kubernetes is
    // activities/kubernetes/ (workflows/ have their own, stricter rule above; tests and benches
    // build their fixtures with client-node directly).
    files: ['**/*.ts'],
    ignores: ['activities/kubernetes/**', 'workflows/**', 'test/**', 'bench/**'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['@kubernetes/*'], message: 'only activities/kubernetes/ imports client-node: use its Kube.' }] }],
    },
  },
);
