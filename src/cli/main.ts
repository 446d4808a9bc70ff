#!/usr/bin/env node
/**
 * The `k8s-watch-policy` command (also the kubectl plugin `kubectl-watch_policy`):
 * `webhook`, `controller`, `inject`, `elect`, `status`, `audit`, `certs`, in commands/. DESIGN §7 is
 * the contract for inject and elect.
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { Command, CommanderError } from 'commander';
import { addCertsCommand } from './commands/certs.ts';
import { addControllerCommand } from './commands/controller.ts';
import { addElectCommand } from './commands/elect.ts';
import { addInjectCommand } from './commands/inject.ts';
import { addAuditCommand } from './commands/audit.ts';
import { addCheckCommand } from './commands/check.ts';
import { addStatusCommand } from './commands/status.ts';
import { addWebhookCommand } from './commands/webhook.ts';
import { errorMessage } from '../log.ts';
import { CliError, EXIT_OK, EXIT_SOFTWARE, EXIT_USAGE } from './exit_codes.ts';

const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

function buildProgram(name: string, setExit: (code: number) => void): Command {
  const program = new Command(name)
    .description('Gives every DeepFlow agent its K8S_WATCH_POLICY and elects the one Kubernetes watcher.')
    .version(version)
    .showSuggestionAfterError(false)
    .exitOverride()
    .configureOutput({ outputError: () => {} });
  const run = (action: () => Promise<number>) => action().then(setExit);
  for (const add of [
    addWebhookCommand,
    addControllerCommand,
    addInjectCommand,
    addElectCommand,
    addStatusCommand,
    addAuditCommand,
    addCheckCommand,
    addCertsCommand,
  ])
    add(program, run);
  return program;
}

async function main(argv: string[]): Promise<number> {
  const name = basename(argv[1] ?? '') === 'kubectl-watch_policy' ? 'kubectl watch-policy' : 'k8s-watch-policy';
  let code = EXIT_OK;
  const program = buildProgram(name, (c) => (code = c));
  try {
    await program.parseAsync(argv);
    return code;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version') return EXIT_OK;
      if (err.code === 'commander.help') return EXIT_USAGE; // no command given: help went to stderr
      if (err.code === 'commander.executeSubCommandAsync') return EXIT_USAGE;
      const line = err.message.replace(/^error: /, '').split('\n')[0];
      process.stderr.write(`${name}: ${line} (see ${name} --help)\n`);
      return EXIT_USAGE;
    }
    if (err instanceof CliError) {
      process.stderr.write(`${name}: ${err.message}\n`);
      return err.exitCode;
    }
    process.stderr.write(`${name}: ${errorMessage(err)}\n`);
    return EXIT_SOFTWARE;
  }
}

// A reader that goes away (`inject -f big.yaml | head`) is not an error worth a stack trace.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw err;
});

void main(process.argv).then((code) => {
  process.exitCode = code;
});
