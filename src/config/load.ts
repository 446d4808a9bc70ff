/** Reads the config file named by `--config` (the only I/O of the config module). */
import { readFile } from 'node:fs/promises';
import { defaultConfig, type Config } from './config.ts';
import { ConfigError, parseConfig } from './parse.ts';

export async function loadConfig(file: string | undefined): Promise<Config> {
  if (file === undefined) return defaultConfig();
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read config file ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  try {
    return parseConfig(text);
  } catch (err) {
    if (err instanceof ConfigError) throw new ConfigError(`config ${file}: ${err.message}`);
    throw err;
  }
}
