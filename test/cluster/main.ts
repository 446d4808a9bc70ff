/**
 * `npm run cluster -- up [--node] | down | status | env | build`: the local control plane for tests and
 * local runs. Run by Node 24 directly (type stripping), no build step.
 */
import { ensureBinaries } from './build.ts';
import { down, envLines, status, up } from './cluster.ts';

const USAGE = 'usage: npm run cluster -- up [--node] | down | status | env | build';

async function main(command: string | undefined, flags: string[]): Promise<number> {
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
