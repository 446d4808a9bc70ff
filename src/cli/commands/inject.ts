/** `k8s-watch-policy inject`: a manifest as the webhook would admit it (DESIGN §7). */
import type { Command } from 'commander';
import { EXIT_DENIED, EXIT_OK } from '../exit_codes.ts';
import { loadCliConfig, writeStdout } from '../process.ts';

async function runInject(opts: { file: string; config?: string }): Promise<number> {
  // Loaded when the command runs (see elect.ts).
  const [{ parseDocuments, readInput, writeDocuments }, { injectDocuments }] = await Promise.all([
    import('../documents.ts'),
    import('../inject.ts'),
  ]);
  const cfg = await loadCliConfig(opts.config);
  const docs = parseDocuments(await readInput(opts.file), opts.file === '-' ? '<stdin>' : opts.file);
  const result = injectDocuments(docs, cfg);
  for (const line of result.messages) process.stderr.write(line + '\n');
  await writeStdout(writeDocuments(result.objects));
  return result.denied > 0 ? EXIT_DENIED : EXIT_OK;
}

export function addInjectCommand(program: Command, run: (action: () => Promise<number>) => Promise<void>): void {
  program
    .command('inject')
    .description('print a manifest as the webhook would admit it (Pods mutated, pod templates as their pods)')
    .requiredOption('-f, --file <file>', 'manifest: multi-document YAML or JSON, - for standard input')
    .option('--config <file>', 'config file')
    .action((opts: Parameters<typeof runInject>[0]) => run(() => runInject(opts)));
}
