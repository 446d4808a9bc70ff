// Jest 30 in native ESM mode (run with NODE_OPTIONS=--experimental-vm-modules, see package.json).
const tsJest = [
  'ts-jest',
  { useESM: true, tsconfig: 'tsconfig.json', diagnostics: false },
];

const common = {
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: { '^.+\\.ts$': tsJest },
  testEnvironment: 'node',
};

/** @type {import('jest').Config} */
export default {
  projects: [
    // Pure core: no I/O, no network, no child processes.
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/test/unit/**/*.test.ts'] },
    // The HTTPS webhook server over real TLS, in-process.
    { ...common, displayName: 'server', testMatch: ['<rootDir>/test/server/**/*.test.ts'] },
    // The built CLI binary (dist/), spawned as a child process.
    { ...common, displayName: 'cli', testMatch: ['<rootDir>/test/cli/**/*.test.ts'] },
  ],
};
