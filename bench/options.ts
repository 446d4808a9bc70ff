/**
 * What the benchmarks share on their command line: `--help`, the usage error (exit 64), numbers
 * from a flag or else an environment variable, comma-separated lists; and the small helpers of
 * the test support layer (a free port, sleep, waiting for a condition).
 */
export { freePort } from '../test/support/free_port.ts';
export { eventually, sleep } from '../test/support/wait.ts';

export interface NumberRule {
  /** An integer >= min (default 1); otherwise any number > min (default 0). */
  integer?: boolean;
  min?: number;
}

export interface BenchCommandLine {
  /** Prints the message and the usage on stderr and exits 64. */
  usage(message: string): never;
  /** With --help: prints the usage and exits 0. */
  helpIf(help: boolean | undefined): void;
  /** The flag's value, else the environment variable's, else the default; checked against the rule. */
  number(name: string, flag: string | undefined, envName: string | undefined, dflt: number, rule?: NumberRule): number;
  list(raw: string): string[];
}

export function benchCommandLine(command: string, usageText: string): BenchCommandLine {
  const usage = (message: string): never => {
    process.stderr.write(`${command}: ${message}\n\n${usageText}`);
    process.exit(64);
  };
  return {
    usage,
    helpIf(help) {
      if (!help) return;
      process.stdout.write(usageText);
      process.exit(0);
    },
    number(name, flag, envName, dflt, { integer = false, min = integer ? 1 : 0 } = {}) {
      const raw = flag ?? (envName ? process.env[envName] : undefined);
      if (raw === undefined || raw === '') return dflt;
      const n = Number(raw);
      const ok = integer ? Number.isInteger(n) && n >= min : Number.isFinite(n) && n > min;
      if (!ok)
        usage(
          `--${name} must be ${integer ? `an integer >= ${min}` : `a number > ${min}`}, got ${JSON.stringify(raw)}`,
        );
      return n;
    },
    list: (raw) =>
      raw
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s !== ''),
  };
}
