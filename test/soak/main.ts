/**
 * `npm run soak -- --minutes N --seed S [--json FILE] [--keep]`: the chaos soak (issue #16) on a
 * local control plane of its own (.cluster/soak). See docs/development.md#the-chaos-soak.
 *
 * Exit 0 when no invariant was violated, 1 when one was (the seed and the history around each
 * violation are printed), 64 on a bad command line.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseSeed } from './prng.ts';

const USAGE = 'usage: npm run soak -- [--minutes N] [--seed S] [--json FILE] [--keep]';

export interface SoakOptions {
  minutes: number;
  seed: number;
  json: string | undefined;
  keep: boolean;
}

export function parseArgs(argv: readonly string[]): SoakOptions | string {
  const o: SoakOptions = { minutes: 5, seed: Math.floor(Math.random() * 0xffffffff), json: undefined, keep: false };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    const value = () => argv[++i];
    switch (flag) {
      case '--minutes': {
        const v = value();
        const n = Number(v);
        if (v === undefined || !Number.isFinite(n) || n <= 0 || n > 24 * 60)
          return `--minutes must be a number of minutes from 0 to 1440, got ${JSON.stringify(v ?? null)}`;
        o.minutes = n;
        break;
      }
      case '--seed': {
        const v = value();
        const s = v === undefined ? undefined : parseSeed(v);
        if (s === undefined)
          return `--seed must be a whole number from 0 to 4294967295, got ${JSON.stringify(v ?? null)}`;
        o.seed = s;
        break;
      }
      case '--json': {
        const v = value();
        if (!v) return '--json needs a file name';
        o.json = v;
        break;
      }
      case '--keep':
        o.keep = true;
        break;
      case '--help':
      case '-h':
        return 'help';
      default:
        return `unknown option ${JSON.stringify(flag)}`;
    }
  }
  return o;
}

const isMain = process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1];
if (isMain) {
  const parsed = parseArgs(process.argv.slice(2));
  if (typeof parsed === 'string') {
    if (parsed === 'help') process.stdout.write(`${USAGE}\n`);
    else process.stderr.write(`soak: ${parsed}\n${USAGE}\n`);
    process.exitCode = parsed === 'help' ? 0 : 64;
  } else {
    // A cluster of its own: a developer's cluster in .cluster, and the e2e suite's, are left alone.
    const root = fileURLToPath(new URL('../..', import.meta.url));
    const ownDir = process.env.K8S_WATCH_POLICY_CLUSTER_DIR === undefined;
    process.env.K8S_WATCH_POLICY_CLUSTER_DIR ??= join(root, '.cluster', 'soak');
    const { runSoak } = await import('./run.ts');
    runSoak(parsed, ownDir).then(
      (code) => (process.exitCode = code),
      (err: unknown) => {
        process.stderr.write(`soak: ${(err as Error).stack ?? String(err)}\n`);
        process.exitCode = 1;
      },
    );
  }
}
