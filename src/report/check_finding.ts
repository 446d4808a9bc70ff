/** One finding of `check`: what was checked, what was seen, and the fix. */
export type FindingStatus = 'ok' | 'warning' | 'failure' | 'skipped';

export interface Finding {
  name: string;
  status: FindingStatus;
  seen: string;
  /** The command or value that fixes it (absent when ok or skipped). */
  fix?: string;
}

export const ok = (name: string, seen: string): Finding => ({ name, status: 'ok', seen });
export const warn = (name: string, seen: string, fix: string): Finding => ({ name, status: 'warning', seen, fix });
export const fail = (name: string, seen: string, fix: string): Finding => ({ name, status: 'failure', seen, fix });
export const skip = (name: string, seen: string): Finding => ({ name, status: 'skipped', seen });
