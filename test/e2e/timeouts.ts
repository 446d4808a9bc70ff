import { jest } from '@jest/globals';

// A hang guard for tests that wait on a real cluster (rollouts, scheduling), not a speed target.
jest.setTimeout(180_000);
