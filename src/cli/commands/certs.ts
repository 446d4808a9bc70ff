/** `k8s-watch-policy certs`: a self-signed CA and a serving certificate for development. */
import type { Command } from 'commander';
import { CliError, EXIT_OK, EXIT_USAGE } from '../exit_codes.ts';
import { csv, positiveInt } from '../options.ts';
import { writeStdout } from '../process.ts';

async function runCerts(opts: { out: string; dns: string[]; days: number; caDays: number }): Promise<number> {
  if (opts.dns.length === 0) throw new CliError('--dns needs at least one name or address', EXIT_USAGE);
  // Loaded when the command runs: the generator (selfsigned) costs every other command about 8 MB of RSS.
  const [{ generateCertificates }, { writeCertificates }] = await Promise.all([
    import('../../certs/generate.ts'),
    import('../../certs/write.ts'),
  ]);
  const bundle = await generateCertificates({ hosts: opts.dns, days: opts.days, caDays: opts.caDays });
  const files = await writeCertificates(opts.out, bundle);
  await writeStdout(files.map((f) => `wrote ${f}\n`).join(''));
  return EXIT_OK;
}

export function addCertsCommand(program: Command, run: (action: () => Promise<number>) => Promise<void>): void {
  program
    .command('certs')
    .description('write a self-signed CA and a serving certificate (ca.crt, ca.key, tls.crt, tls.key)')
    .option('--out <dir>', 'output directory', 'certs')
    .option('--dns <names>', 'comma-separated DNS names and IP addresses of the server', csv, [
      'localhost',
      '127.0.0.1',
    ])
    .option('--days <days>', 'validity of the serving certificate', positiveInt, 365)
    .option('--ca-days <days>', 'validity of the CA', positiveInt, 3650)
    .action((opts: Parameters<typeof runCerts>[0]) => run(() => runCerts(opts)));
}
