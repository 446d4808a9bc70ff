// Jest 30 in native ESM mode (run with NODE_OPTIONS=--experimental-vm-modules, see package.json).
const tsJest = ['ts-jest', { useESM: true, tsconfig: 'tsconfig.json', diagnostics: false }];

const common = {
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: { '^.+\\.ts$': tsJest },
  testEnvironment: 'node',
  // The local control plane's files (etcd's own *.snap files among them) are not jest's business.
  modulePathIgnorePatterns: ['<rootDir>/.cluster/'],
};

/** @type {import('jest').Config} */
export default {
  projects: [
    // Pure core: no I/O, no network, no child processes.
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/test/unit/**/*.test.ts'] },
    // The release's image, SBOM and chart builders (scripts/release), with GNU tar and helm to read them.
    { ...common, displayName: 'release', testMatch: ['<rootDir>/test/release/**/*.test.ts'] },
    // The HTTPS webhook server over real TLS, in-process.
    { ...common, displayName: 'server', testMatch: ['<rootDir>/test/server/**/*.test.ts'] },
    // The Helm chart and the plain manifests, rendered with `helm template` (no cluster): the
    // harness-built helm of test/cluster (or $HELM), spawned as a child process.
    {
      ...common,
      displayName: 'chart',
      testMatch: ['<rootDir>/test/chart/**/*.test.ts'],
      globalSetup: '<rootDir>/test/chart/global_setup.mjs',
    },
    // The Kubernetes client's transport (kubeconfig files, requests, the watch stream) against a
    // local TLS server that speaks the API server's wire format, in-process.
    { ...common, displayName: 'client', testMatch: ['<rootDir>/test/client/**/*.test.ts'] },
    // The built CLI binary (dist/), spawned as a child process.
    { ...common, displayName: 'cli', testMatch: ['<rootDir>/test/cli/**/*.test.ts'] },
    // End to end against the local control plane (test/cluster): run alone and in band
    // (`npm run test:e2e`), since the webhook configurations are cluster-wide.
    {
      ...common,
      displayName: 'e2e',
      testMatch: ['<rootDir>/test/e2e/**/*.test.ts'],
      globalSetup: '<rootDir>/test/e2e/global_setup.mjs',
      globalTeardown: '<rootDir>/test/e2e/global_teardown.mjs',
      setupFilesAfterEnv: ['<rootDir>/test/e2e/timeouts.ts'],
    },
    // What a user of an installed release sees, through the API server only: against the local
    // control plane with local processes (npm test), or against a release on a real cluster
    // (KWP_RELEASE_NAMESPACE, npm run e2e:kind). Run in band with the e2e project.
    {
      ...common,
      displayName: 'installed',
      testMatch: ['<rootDir>/test/installed/**/*.test.ts'],
      globalSetup: '<rootDir>/test/installed/global_setup.mjs',
      globalTeardown: '<rootDir>/test/installed/global_teardown.mjs',
      setupFilesAfterEnv: ['<rootDir>/test/e2e/timeouts.ts'],
    },
    // What `npm run release` pushed into e2e:node's registry (signatures, SBOM attestations, the
    // arm64 image under qemu, a second build): run by `npm run e2e:node` after the release, never alone.
    {
      ...common,
      displayName: 'published',
      testMatch: ['<rootDir>/test/published/**/*.test.ts'],
      setupFilesAfterEnv: ['<rootDir>/test/e2e/timeouts.ts'],
    },
    // The life of a release whose pods run on a real node (helm upgrade under load, helm
    // uninstall): run by `npm run e2e:node` after it has installed the release, never alone.
    {
      ...common,
      displayName: 'node',
      testMatch: ['<rootDir>/test/node/**/*.test.ts'],
      setupFilesAfterEnv: ['<rootDir>/test/e2e/timeouts.ts'],
    },
  ],
};
