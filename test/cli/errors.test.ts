/**
 * Bad input and bad usage through the built binary (DESIGN §7): one clear line on stderr, nothing
 * on stdout, and a sysexits code: 64 usage, 65 data, 66 no input, 78 config.
 */
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { killAll, lines, REPO, requireBuild, run, tempDir } from '../support/cli.ts';

// Every call of the CLI starts a Node process (about 1 s on a busy 2-core machine); each call has
// its own shorter timeout (helpers.ts), so a hang fails with the command line rather than here.
jest.setTimeout(60_000);

let tmp: Awaited<ReturnType<typeof tempDir>>;
let okFile: string;

beforeAll(async () => {
  requireBuild();
  tmp = await tempDir('errors');
  okFile = await tmp.file('ok.yaml', 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n');
});

afterAll(async () => {
  await killAll();
  await tmp?.cleanup();
});

const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Runs and expects exactly one stderr line, an empty stdout and `code`; returns the line. */
async function oneLine(args: string[], code: number, stdin?: string): Promise<string> {
  const r = await run(args, stdin === undefined ? {} : { stdin });
  expect({ code: r.code, stdout: r.stdout }).toEqual({ code, stdout: '' });
  const err = lines(r.stderr);
  expect(err).toHaveLength(1);
  expect(err[0]).not.toMatch(/^\s*at |Error:|\bnode:internal/); // no stack trace
  return err[0]!;
}

describe('unparsable input: exit 65', () => {
  test.each([
    ['an unclosed flow sequence', 'kind: Pod\nmetadata:\n  name: [x\n', 'invalid YAML at line 4: '],
    ['a bad indentation', 'kind: Pod\nmetadata:\n  name: a\n   labels: {}\n', 'invalid YAML at line 3: '],
    ['truncated JSON', '{"kind": "Pod",', 'invalid YAML at line 1: '],
    ['a duplicate key', 'kind: Pod\nkind: Service\n', 'invalid YAML at line 2: '],
  ])('%s in a file', async (_name, content, prefix) => {
    const file = await tmp.file('bad.yaml', content);
    const line = await oneLine(['inject', '-f', file], 65);
    // The prefix is ours, the rest (what is wrong) comes from the YAML parser.
    expect(line).toMatch(new RegExp(`^${escape(`k8s-watch-policy: ${file}: ${prefix}`)}\\S.{10,}$`));
  });

  test('elect reports unparsable input the same way', async () => {
    const file = await tmp.file('bad-elect.yaml', '{"kind": "Pod",');
    expect(await oneLine(['elect', '-f', file, '-o', 'json'], 65)).toMatch(
      new RegExp(`^${escape(`k8s-watch-policy: ${file}: invalid YAML at line 1: `)}\\S`),
    );
  });

  test('standard input is named <stdin>', async () => {
    expect(await oneLine(['inject', '-f', '-'], 65, '{"kind": "Pod",')).toMatch(
      /^k8s-watch-policy: <stdin>: invalid YAML at line 1: \S/,
    );
  });

  test.each([
    ['a list', '- a\n- b\n', 1],
    ['a string after a good document', 'kind: Pod\nmetadata: {name: p}\n---\n"just a string"\n', 2],
    ['a number', '42\n', 1],
  ])('a document that is not a map (%s)', async (_name, content, n) => {
    expect(await oneLine(['inject', '-f', '-'], 65, content)).toBe(
      `k8s-watch-policy: <stdin>: document ${n} is not a Kubernetes object (a map)`,
    );
  });
});

describe('unreadable input: exit 66', () => {
  test('a file that does not exist', async () => {
    const missing = join(tmp.dir, 'missing.yaml');
    expect(await oneLine(['inject', '-f', missing], 66)).toBe(`k8s-watch-policy: cannot read ${missing}: no such file`);
    expect(await oneLine(['elect', '-f', missing, '-o', 'json'], 66)).toBe(
      `k8s-watch-policy: cannot read ${missing}: no such file`,
    );
  });

  test('a directory', async () => {
    expect(await oneLine(['inject', '-f', tmp.dir], 66)).toBe(
      `k8s-watch-policy: cannot read ${tmp.dir}: is a directory`,
    );
  });
});

describe('bad usage: exit 64', () => {
  const hint = '(see k8s-watch-policy --help)';

  test.each<[string, () => string[], string]>([
    ['an unknown flag', () => ['inject', '-f', okFile, '--bogus'], `unknown option '--bogus'`],
    ['an unknown top-level flag', () => ['--bogus'], `unknown option '--bogus'`],
    ['an unknown command', () => ['frobnicate'], `unknown command 'frobnicate'`],
    [
      'a bad -o value',
      () => ['elect', '-f', okFile, '-o', 'yaml'],
      `option '-o, --output <format>' argument 'yaml' is invalid. Allowed choices are json, text.`,
    ],
    ['-o without a value', () => ['elect', '-f', okFile, '-o'], `option '-o, --output <format>' argument missing`],
    [
      'a --current without a slash',
      () => ['elect', '-f', okFile, '--current', 'watcher'],
      `option '--current <namespace/name>' argument 'watcher' is invalid. must be NAMESPACE/NAME`,
    ],
    [
      'a --current with two slashes',
      () => ['elect', '-f', okFile, '--current', 'a/b/c'],
      `option '--current <namespace/name>' argument 'a/b/c' is invalid. must be NAMESPACE/NAME`,
    ],
    [
      'a --current without a namespace',
      () => ['elect', '-f', okFile, '--current', '/b'],
      `option '--current <namespace/name>' argument '/b' is invalid. must be NAMESPACE/NAME`,
    ],
    ['inject without -f', () => ['inject'], `required option '-f, --file <file>' not specified`],
    ['elect without -f', () => ['elect', '-o', 'json'], `required option '-f, --file <file>' not specified`],
    ['-f without a value', () => ['inject', '-f'], `option '-f, --file <file>' argument missing`],
    [
      'an extra argument',
      () => ['inject', '-f', okFile, 'extra'],
      `too many arguments for 'inject'. Expected 0 arguments but got 1: extra.`,
    ],
    [
      'a bad port',
      () => ['webhook', '--port', '99999'],
      `option '--port <port>' argument '99999' is invalid. must be a port number (0-65535)`,
    ],
    [
      'a bad --days',
      () => ['certs', '--days', '0'],
      `option '--days <days>' argument '0' is invalid. must be a positive integer`,
    ],
  ])('%s', async (_name, args, message) => {
    expect(await oneLine(args(), 64)).toBe(`k8s-watch-policy: ${message} ${hint}`);
  });

  test('an empty --dns', async () => {
    expect(await oneLine(['certs', '--out', join(tmp.dir, 'never'), '--dns', ' , '], 64)).toBe(
      'k8s-watch-policy: --dns needs at least one name or address',
    );
  });

  test('no command: the help on stderr, exit 64', async () => {
    const r = await run([]);
    expect(r.code).toBe(64);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^Usage: k8s-watch-policy \[options\] \[command\]\n/);
    for (const command of ['webhook', 'inject', 'elect', 'certs'])
      expect(r.stderr).toMatch(new RegExp(`^  ${command} \\[options\\]`, 'm'));
  });
});

describe('bad config: exit 78', () => {
  test('elect reports a bad config file the same way', async () => {
    const config = await tmp.file('config.yaml', 'election:\n  leaseName: ""\n');
    expect(await oneLine(['elect', '-f', okFile, '--config', config], 78)).toBe(
      `k8s-watch-policy: config ${config}: election.leaseName: must not be empty`,
    );
  });

  test('a config file that does not exist', async () => {
    const missing = join(tmp.dir, 'no-config.yaml');
    expect(await oneLine(['inject', '-f', okFile, '--config', missing], 78)).toBe(
      `k8s-watch-policy: cannot read config file ${missing}: ENOENT`,
    );
  });

  test('a config that is not a map', async () => {
    const config = await tmp.file('list.yaml', '- deprecatedEnv: warn\n');
    expect(await oneLine(['inject', '-f', okFile, '--config', config], 78)).toMatch(
      new RegExp(`^k8s-watch-policy: config ${escape(config)}: .*expected a map, got a list$`),
    );
  });
});

describe('help and version: exit 0 on stdout', () => {
  test('--help', async () => {
    const r = await run(['--help']);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^Usage: k8s-watch-policy \[options\] \[command\]\n/);
  });

  test('inject --help names -f and --config', async () => {
    const r = await run(['inject', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Usage: k8s-watch-policy inject \[options\]\n/);
    expect(r.stdout).toMatch(/-f, --file <file>/);
    expect(r.stdout).toMatch(/--config <file>/);
  });

  test('--version prints the package version', async () => {
    const { version } = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string };
    const r = await run(['--version']);
    expect(r).toEqual({ code: 0, signal: null, stdout: `${version}\n`, stderr: '' });
  });
});
