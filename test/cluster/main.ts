/**
 * `npm run cluster -- up [--node] [--kubernetes 1.30] | down | status | env | build [--kubernetes 1.30]`:
 * the local control plane for tests and local runs. `--kubernetes` picks the minor (default: the
 * newest, test/cluster/go.mod's; $K8S_WATCH_POLICY_KUBERNETES does the same for every entry
 * point, the test suites too). Run by Node 24 directly (type stripping), no build step.
 */
import { ensureBinaries } from './build.ts';
import { down, envLines, status, up } from './cluster.ts';

const USAGE =
  'usage: npm run cluster -- up [--node] [--kubernetes 1.MINOR] | down | status | env | build [--kubernetes 1.MINOR]';

async function main(command: string | undefined, args: string[]): Promise<number> {
  const at = args.indexOf('--kubernetes');
  if (at >= 0 && (command === 'up' || command === 'build')) {
    const minor = args[at + 1];
    if (!minor || !/^v?1\.\d+/.test(minor)) {
      process.stderr.write(`--kubernetes needs a version such as 1.30; ${USAGE}\n`);
      return 64;
    }
    process.env.K8S_WATCH_POLICY_KUBERNETES = minor;
  }
  const flags = at >= 0 ? args.filter((_, i) => i !== at && i !== at + 1) : args;
  const unknown = flags.filter((f) => !(command === 'up' && f === '--node'));
  if (unknown.length > 0) {
    process.stderr.write(`unknown option ${JSON.stringify(unknown[0])}; ${USAGE}\n`);
    return 64;
  }
  switch (command) {
    case 'up': {
      await up({ node: flags.includes('--node') });
      for (const line of envLines()) process.stdout.write(line + '\n');
      return 0;
    }
    case 'down':
      await down();
      return 0;
    case 'status': {
      const s = await status();
      process.stdout.write(JSON.stringify(s, null, 2) + '\n');
      return s.apiReady ? 0 : 3;
    }
    case 'env':
      for (const line of envLines()) process.stdout.write(line + '\n');
      return 0;
    case 'build':
      process.stdout.write((await ensureBinaries()) + '\n');
      return 0;
    default:
      process.stderr.write(
        `${command === undefined ? 'no command' : `unknown command ${JSON.stringify(command)}`}; ${USAGE}\n`,
      );
      return 64;
  }
}

main(process.argv[2], process.argv.slice(3)).then(
  (code) => (process.exitCode = code),
  (err: unknown) => {
    process.stderr.write(`cluster: ${(err as Error).message}\n`);
    process.exitCode = 1;
  },
);
