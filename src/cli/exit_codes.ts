/** Exit codes of the CLI (DESIGN §7; the 64+ range follows sysexits.h). */
export const EXIT_OK = 0;
/** `inject`: at least one document was denied. */
export const EXIT_DENIED = 1;
/** `elect`: no watcher could be elected. */
export const EXIT_NO_WATCHER = 2;
/** Wrong usage: unknown command or flag, missing or bad argument. */
export const EXIT_USAGE = 64;
/** Input that is not what it should be: unparsable YAML or JSON. */
export const EXIT_DATA = 65;
/** An input file that cannot be read. */
export const EXIT_NO_INPUT = 66;
/** A runtime failure: a port in use, a certificate that cannot be loaded. */
export const EXIT_SOFTWARE = 70;
/** Missing RBAC permissions. */
export const EXIT_NOPERM = 77;
/** A bad config file. */
export const EXIT_CONFIG = 78;

/** An error that ends the CLI with one line on stderr and the given exit code. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}
