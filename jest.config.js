// Two projects: `unit` needs nothing running; `stack` runs against the real local stack
// (kube-apiserver + etcd shared per run, started by test/stack/global-setup.ts).
/** @type {import('ts-jest').TsJestTransformerOptions} */
const tsJest = {
  // Type checking is `npm run typecheck`'s job; here we only transpile, which is much faster.
  tsconfig: { isolatedModules: true, allowJs: true, module: 'commonjs', moduleResolution: 'node' },
  diagnostics: false,
};
const common = {
  testEnvironment: 'node',
  transform: { '^.+\\.[cm]?[tj]s$': ['ts-jest', tsJest] },
  // @kubernetes/client-node 1.x and some of its dependencies are ESM-only; Node 20.19 can
  // require() them natively, jest's module loader cannot, so transpile them to CommonJS.
  transformIgnorePatterns: ['/node_modules/(?!(@kubernetes/client-node|openid-client|oauth4webapi|jose|p-limit|yocto-queue|@noble/curves|@noble/hashes)/)'],
  moduleFileExtensions: ['ts', 'js', 'mjs', 'cjs', 'json'],
  // The CLI imports its commands on demand, as `import('./x.js')` (Node's ESM rule); here x is x.ts.
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
};
module.exports = {
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/test/unit/**/*.test.ts'] },
    {
      ...common,
      displayName: 'stack',
      testMatch: ['<rootDir>/test/stack/**/*.test.ts'],
      globalSetup: '<rootDir>/test/stack/global-setup.ts',
      globalTeardown: '<rootDir>/test/stack/global-teardown.ts',
    },
  ],
  testTimeout: 180_000,
  reporters: ['default', '<rootDir>/test/summary-reporter.js'],
  // Two cores: one test file per core; each stack test file spawns helm and servers of its own.
  maxWorkers: 2,
};
