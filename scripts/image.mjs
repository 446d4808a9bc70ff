#!/usr/bin/env node
// npm run image: the container image of the project (docs/image.md).
//
// With a Docker daemon (and so, presumably, a registry): `docker build` of the Dockerfile's default
// target, from source on node:24-slim. Without one (the machines this project is developed on):
// podman, offline. A base image made once from the Debian mirror by mmdebstrap (variant essential +
// libstdc++6, merged /usr) plus the Node binary of the npm package `node` (a devDependency) at
// /usr/local/bin/node; the production node_modules installed outside the build by `npm ci
// --omit=dev` (the host reaches the npm registry) and the compiled dist/ put into a context
// directory; then, with no network, the Dockerfile's `runtime` stage (podman build --target
// runtime) on that base as BASE, and Dockerfile.prebuilt adding the context's app to it.
// Installs podman, runc and mmdebstrap with apt-get when they are missing (root, Debian).
// Every step is reused when what it depends on is unchanged; `--save` writes an archive that
// `ctr -n k8s.io images import` (or `docker load`, `podman load`) loads.
//
//   npm run image                                  # k8s-watch-policy:dev
//   npm run image -- --tag k8s-watch-policy:0.1.0 --save /tmp/kwp.tar.gz
//   npm run image -- --rebuild-base                # a fresh Debian base (security updates)
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  createReadStream,
  createWriteStream,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { homedir } from 'node:os';
import { join, relative } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { createGzip } from 'node:zlib';

const root = fileURLToPath(new URL('..', import.meta.url));
const started = Date.now();
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));

const USAGE = `usage: npm run image -- [options]

  --tag NAME[:TAG]     the image's name (default k8s-watch-policy:dev)
  --save FILE          also write it as an archive (docker-archive; gzipped when FILE ends in .gz)
                       for ctr -n k8s.io images import FILE, docker load, podman load
  --engine E           podman (offline, mmdebstrap base) or docker (from source on node:24-slim);
                       default: docker when a Docker daemon answers, else podman
  --rebuild            build the image even if nothing it depends on changed
  --rebuild-base       also make the Debian base again (podman; picks up Debian updates)
  --no-install         never apt-get install; fail naming what is missing
  --verbose            show the tools' output as they run
  -h, --help

environment: K8S_WATCH_POLICY_CACHE (cache root, default ~/.cache/k8s-watch-policy),
  KWP_DEBIAN_SUITE (bookworm), KWP_DEBIAN_MIRROR (http://deb.debian.org/debian),
  KWP_DEBIAN_SECURITY_MIRROR (http://deb.debian.org/debian-security)`;

function parseArgs(argv) {
  const opts = {
    tag: 'k8s-watch-policy:dev',
    save: undefined,
    engine: undefined,
    rebuild: false,
    rebuildBase: false,
    install: true,
    verbose: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined || v.startsWith('--')) fail(`${arg} needs a value\n\n${USAGE}`);
      return v;
    };
    if (arg === '--tag') opts.tag = value();
    else if (arg === '--save') opts.save = value();
    else if (arg === '--engine') opts.engine = value();
    else if (arg === '--rebuild') opts.rebuild = true;
    else if (arg === '--rebuild-base') opts.rebuild = opts.rebuildBase = true;
    else if (arg === '--no-install') opts.install = false;
    else if (arg === '--verbose') opts.verbose = true;
    else if (arg === '-h' || arg === '--help') {
      process.stdout.write(`${USAGE}\n`);
      process.exit(0);
    } else fail(`unknown argument ${arg}\n\n${USAGE}`);
  }
  if (opts.engine !== undefined && opts.engine !== 'podman' && opts.engine !== 'docker')
    fail(`--engine is podman or docker, not ${opts.engine}`);
  if (!/:[\w][\w.-]{0,127}$/.test(opts.tag.split('/').pop())) opts.tag += ':dev';
  return opts;
}

const opts = parseArgs(process.argv.slice(2));
const cacheRoot =
  process.env.K8S_WATCH_POLICY_CACHE ??
  join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'k8s-watch-policy');
const work = join(cacheRoot, 'image');
const LABEL_INPUTS = 'io.github.deepflowio.k8s-watch-policy.inputs';

function say(line) {
  process.stderr.write(`[image] ${line}\n`);
}

function fail(message) {
  process.stderr.write(`image: ${message}\n`);
  process.exit(1);
}

const seconds = (since) => `${((Date.now() - since) / 1000).toFixed(1)} s`;
const mb = (bytes) => `${(bytes / 1e6).toFixed(0)} MB`;

/** Runs a tool; its output is shown with --verbose, else kept and its tail printed on failure. */
function run(cmd, args, { check = true, quiet = !opts.verbose, env, cwd = root, input } = {}) {
  const r = spawnSync(cmd, args, {
    cwd,
    env: env ? { ...process.env, ...env } : process.env,
    input,
    stdio: quiet
      ? [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe']
      : [input === undefined ? 'inherit' : 'pipe', 'inherit', 'inherit'],
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
  });
  if (r.error?.code === 'ENOENT') fail(`${cmd} is not installed`);
  if (check && r.status !== 0) {
    const tail = `${r.stdout ?? ''}${r.stderr ?? ''}`.trim().split('\n').slice(-30).join('\n');
    fail(`${cmd} ${args.join(' ')} failed (exit ${r.status ?? r.signal})${tail ? `:\n${tail}` : ''}`);
  }
  return r;
}

const output = (cmd, args, options) => run(cmd, args, { quiet: true, ...options }).stdout.trim();

function sha256(...parts) {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part).update('\0');
  return hash.digest('hex');
}

/** The files under dir (relative paths, sorted) and their contents, hashed. */
function hashTree(dir, into = createHash('sha256')) {
  const files = readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => relative(dir, join(entry.parentPath ?? entry.path, entry.name)))
    .sort();
  for (const file of files)
    into
      .update(file)
      .update('\0')
      .update(readFileSync(join(dir, file)))
      .update('\0');
  return into;
}

function dockerAnswers() {
  const r = spawnSync(process.env.DOCKER ?? 'docker', ['info', '--format', '{{.ServerVersion}}'], {
    stdio: ['ignore', 'pipe', 'ignore'],
    encoding: 'utf8',
    timeout: 10_000,
  });
  return r.status === 0 && r.stdout.trim() !== '';
}

/** The reference a CRI runtime looks up for an unqualified image in a pod spec. */
function fullyQualified(ref) {
  const first = ref.split('/')[0];
  if (!ref.includes('/')) return `docker.io/library/${ref}`;
  if (first.includes('.') || first.includes(':') || first === 'localhost') return ref;
  return `docker.io/${ref}`;
}

async function gzipFile(from, to) {
  await pipeline(createReadStream(from), createGzip({ level: 6 }), createWriteStream(to));
}

async function saveArchive(engine, image) {
  const file = opts.save;
  const gz = file.endsWith('.gz');
  const name = fullyQualified(opts.tag);
  const t = Date.now();
  say(`saving ${name} to ${file}${gz ? ' (gzipped)' : ''}`);
  if (engine === 'podman' && name !== image) run('podman', ['tag', image, name]);
  const tar = gz ? `${file}.tmp-${process.pid}.tar` : file;
  rmSync(tar, { force: true });
  if (engine === 'podman') run('podman', ['save', '--format', 'docker-archive', '-o', tar, name]);
  else run(process.env.DOCKER ?? 'docker', ['save', '-o', tar, name]);
  // The alias was for the archive only: left in podman's store it would keep naming this image
  // after the next build.
  if (engine === 'podman' && name !== image) run('podman', ['untag', image, name]);
  if (gz) {
    await gzipFile(tar, file);
    rmSync(tar, { force: true });
  }
  // containerd 1.6's ctr does not read a gzipped archive itself.
  const load = gz ? `gunzip -c ${file} | ctr -n k8s.io images import -` : `ctr -n k8s.io images import ${file}`;
  say(`saved ${file}: ${mb(statSync(file).size)} in ${seconds(t)}; into containerd (as ${name}): ${load}`);
}

// ---- docker: from source, the Dockerfile's default target ----------------------------------------

async function withDocker() {
  const docker = process.env.DOCKER ?? 'docker';
  const hash = createHash('sha256');
  for (const file of [
    'Dockerfile',
    '.dockerignore',
    'package.json',
    'package-lock.json',
    'tsconfig.json',
    'tsconfig.build.json',
  ]) {
    hash
      .update(file)
      .update('\0')
      .update(readFileSync(join(root, file)))
      .update('\0');
  }
  const inputs = hashTree(join(root, 'src'), hash).digest('hex');
  const current = spawnSync(
    docker,
    ['image', 'inspect', '--format', `{{index .Config.Labels "${LABEL_INPUTS}"}}`, opts.tag],
    { encoding: 'utf8' },
  );
  if (!opts.rebuild && current.status === 0 && current.stdout.trim() === inputs) {
    say(`${opts.tag} is up to date (sources unchanged); reusing it`);
  } else {
    const t = Date.now();
    say(`docker build ${opts.tag} from source (node:24-slim; npm ci and tsc inside the build)`);
    run(docker, [
      'build',
      '-t',
      opts.tag,
      '--label',
      `${LABEL_INPUTS}=${inputs}`,
      '--label',
      `org.opencontainers.image.version=${pkg.version}`,
      '.',
    ]);
    say(`built in ${seconds(t)}`);
  }
  const size = Number(output(docker, ['image', 'inspect', '--format', '{{.Size}}', opts.tag]));
  if (opts.save) await saveArchive('docker', opts.tag);
  say(`${opts.tag}: ${mb(size)} (done in ${seconds(started)})`);
}

// ---- podman: offline, mmdebstrap base + the npm Node binary ---------------------------------------

const PACKAGES = ['podman', 'runc', 'mmdebstrap'];

function ensurePackages() {
  const missing = PACKAGES.filter((p) => {
    const r = spawnSync('dpkg-query', ['-W', '-f', '${Status}', p], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    return !(r.status === 0 && r.stdout.endsWith(' installed'));
  });
  if (missing.length === 0) return;
  const command = `apt-get update && apt-get install -y --no-install-recommends ${missing.join(' ')}`;
  if (!opts.install) fail(`missing Debian packages: ${missing.join(' ')} (${command})`);
  if (process.getuid?.() !== 0) fail(`missing Debian packages: ${missing.join(' ')}; run as root, or: sudo ${command}`);
  if (spawnSync('apt-get', ['--version'], { stdio: 'ignore' }).status !== 0)
    fail(`needs ${missing.join(', ')} and there is no apt-get: install them with this system's package manager`);
  const t = Date.now();
  say(`installing ${missing.join(' ')} (apt-get update; apt-get install --no-install-recommends)`);
  const env = { DEBIAN_FRONTEND: 'noninteractive' };
  run('apt-get', ['update'], { env });
  run('apt-get', ['install', '-y', '--no-install-recommends', '-o', 'Dpkg::Use-Pty=0', ...missing], { env });
  say(`installed in ${seconds(t)}`);
}

/** The Node binary of the npm package `node` (a devDependency, put in place by `npm ci`). */
function nodeBinary() {
  const pkgDir = join(root, 'node_modules', 'node');
  if (!existsSync(join(pkgDir, 'package.json')))
    fail('node_modules/node is missing: run npm ci first (the image takes its Node binary from there)');
  const bin = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8')).bin?.node ?? 'bin/node';
  const path = join(pkgDir, bin);
  if (!existsSync(path))
    fail(`${path} is missing: npm ci did not run the \`node\` package's install script (allowScripts)`);
  const [version, arch] = output(path, ['-p', 'process.version + " " + process.arch']).split(' ');
  return { path, version, arch };
}

/** podman run/build here: runc (crun refuses this host's hybrid cgroups) and ulimits within root's hard limits. */
function ulimitFlags() {
  const limits = readFileSync('/proc/self/limits', 'utf8');
  const hard = (name) => {
    const m = new RegExp(`^${name}\\s+\\S+\\s+(\\S+)`, 'm').exec(limits);
    return m && m[1] !== 'unlimited' ? Number(m[1]) : undefined;
  };
  const nofile = Math.min(hard('Max open files') ?? 1048576, 1048576);
  const nproc = Math.min(hard('Max processes') ?? 32768, 32768);
  return ['--ulimit', `nofile=${nofile}:${nofile}`, '--ulimit', `nproc=${nproc}:${nproc}`];
}

function baseRecipe(node) {
  const suite = process.env.KWP_DEBIAN_SUITE ?? 'bookworm';
  const mirror = process.env.KWP_DEBIAN_MIRROR ?? 'http://deb.debian.org/debian';
  const security = process.env.KWP_DEBIAN_SECURITY_MIRROR ?? 'http://deb.debian.org/debian-security';
  return {
    recipe: 1,
    suite,
    sources: [
      `deb ${mirror} ${suite} main`,
      `deb ${mirror} ${suite}-updates main`,
      `deb ${security} ${suite}-security main`,
    ],
    variant: 'essential',
    include: ['libstdc++6'],
    hook: 'merged-usr',
    // No manuals, documentation (but the copyrights) or translations in the image.
    dpkgopts: [
      'path-exclude=/usr/share/man/*',
      'path-exclude=/usr/share/doc/*',
      'path-include=/usr/share/doc/*/copyright',
      'path-exclude=/usr/share/locale/*',
      'path-exclude=/usr/share/info/*',
    ],
    node: `${node.version} linux-${node.arch}`,
  };
}

function ensureBase(node) {
  const recipe = baseRecipe(node);
  const key = sha256(JSON.stringify(recipe)).slice(0, 12);
  const repo = 'localhost/k8s-watch-policy-base';
  const image = `${repo}:${node.version}-${key}`;
  const exists = spawnSync('podman', ['image', 'exists', image]).status === 0;
  if (exists && !opts.rebuildBase) {
    say(
      `base ${image} is up to date (Node ${node.version}, Debian ${recipe.suite}: ${recipe.variant} + ${recipe.include.join(' ')}); reusing it`,
    );
    return image;
  }
  const t = Date.now();
  say(
    `base: mmdebstrap ${recipe.suite} (${recipe.variant} + ${recipe.include.join(' ')}, merged /usr) from the Debian mirror, + Node ${node.version} at /usr/local/bin/node`,
  );
  mkdirSync(work, { recursive: true });
  const tar = join(work, `base-${key}.tar`);
  rmSync(tar, { force: true });
  run('mmdebstrap', [
    '--mode=root',
    `--variant=${recipe.variant}`,
    `--include=${recipe.include.join(',')}`,
    `--hook-dir=/usr/share/mmdebstrap/hooks/${recipe.hook}`,
    ...recipe.dpkgopts.map((o) => `--dpkgopt=${o}`),
    `--customize-hook=copy-in ${node.path} /usr/local/bin`,
    '--customize-hook=chroot "$1" node --version',
    recipe.suite,
    tar,
    ...recipe.sources,
  ]);
  say(`root filesystem: ${mb(statSync(tar).size)} in ${seconds(t)}; podman import`);
  const previous = exists ? output('podman', ['image', 'inspect', '--format', '{{.Id}}', image]) : undefined;
  run('podman', [
    'import',
    '--change',
    'ENV=PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    '--change',
    'CMD=["node"]',
    '--change',
    `LABEL=io.github.deepflowio.k8s-watch-policy.base=${key}`,
    '--message',
    `mmdebstrap ${recipe.suite} ${recipe.variant} + ${recipe.include.join(' ')}, Node ${node.version}`,
    tar,
    image,
  ]);
  rmSync(tar, { force: true });
  // Older bases (another Node, another recipe, or the one --rebuild-base replaced), unless an image still uses them.
  const others = output('podman', [
    'images',
    '--noheading',
    '--format',
    '{{.Repository}}:{{.Tag}}',
    '--filter',
    `reference=${repo}`,
  ])
    .split('\n')
    .filter((ref) => ref && ref !== image && !ref.endsWith(':<none>'));
  for (const ref of [...others, ...(previous ? [previous] : [])])
    run('podman', ['rmi', ref], { check: false, quiet: true });
  say(`base ${image} made in ${seconds(t)}`);
  return image;
}

/** The context of Dockerfile.prebuilt: package.json, production node_modules/, compiled dist/. */
function prepareContext() {
  const ctx = join(work, 'context');
  mkdirSync(ctx, { recursive: true });
  const manifest = readFileSync(join(root, 'package.json'));
  const lock = readFileSync(join(root, 'package-lock.json'));
  // What npm ci --omit=dev installs depends on these (not on scripts or devDependencies, which
  // change the lock when they matter).
  const { dependencies, optionalDependencies, peerDependencies, bundleDependencies, overrides } = JSON.parse(manifest);
  const depsKey = sha256(
    JSON.stringify({ dependencies, optionalDependencies, peerDependencies, bundleDependencies, overrides }),
    lock,
  );
  const depsKeyFile = join(ctx, '.deps-key');
  if (
    existsSync(depsKeyFile) &&
    readFileSync(depsKeyFile, 'utf8') === depsKey &&
    existsSync(join(ctx, 'node_modules'))
  ) {
    say('production node_modules: package.json and package-lock.json unchanged; reusing them');
  } else {
    const t = Date.now();
    say(
      'production node_modules: npm ci --omit=dev --ignore-scripts (outside the build; the host reaches the npm registry)',
    );
    rmSync(depsKeyFile, { force: true });
    rmSync(join(ctx, 'node_modules'), { recursive: true, force: true });
    writeFileSync(join(ctx, 'package.json'), manifest);
    writeFileSync(join(ctx, 'package-lock.json'), lock);
    run('npm', ['ci', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund'], { cwd: ctx });
    writeFileSync(depsKeyFile, depsKey);
    say(`installed in ${seconds(t)}`);
  }
  writeFileSync(join(ctx, 'package.json'), manifest);
  // Compiled afresh into the context, as the Dockerfile's build stage does: no stale files of
  // removed sources, and the tree's dist/ (which tests and npm start use) left alone.
  const t = Date.now();
  rmSync(join(ctx, 'dist'), { recursive: true, force: true });
  run(process.execPath, [
    join(root, 'node_modules', 'typescript', 'bin', 'tsc'),
    '-p',
    'tsconfig.build.json',
    '--outDir',
    join(ctx, 'dist'),
  ]);
  say(`dist: compiled (tsc -p tsconfig.build.json --outDir <context>/dist) in ${seconds(t)}`);
  return ctx;
}

async function withPodman() {
  if (process.platform !== 'linux')
    fail('the offline build needs Linux (podman, mmdebstrap); with Docker use --engine docker');
  if (process.getuid?.() !== 0)
    fail('the offline build runs podman and mmdebstrap as root: run it as root (or with Docker: --engine docker)');
  ensurePackages();
  const node = nodeBinary();
  const base = ensureBase(node);
  const ctx = prepareContext();

  const baseId = output('podman', ['image', 'inspect', '--format', '{{.Id}}', base]);
  const hash = createHash('sha256').update(`base ${baseId}\0version ${pkg.version}\0`);
  for (const file of ['Dockerfile', 'Dockerfile.prebuilt'])
    hash
      .update(file)
      .update('\0')
      .update(readFileSync(join(root, file)))
      .update('\0');
  for (const file of ['package.json', 'package-lock.json'])
    hash
      .update(file)
      .update('\0')
      .update(readFileSync(join(ctx, file)))
      .update('\0');
  const inputs = hashTree(join(ctx, 'dist'), hash).digest('hex');

  const current = spawnSync(
    'podman',
    ['image', 'inspect', '--format', `{{.Id}} {{index .Labels "${LABEL_INPUTS}"}}`, opts.tag],
    { encoding: 'utf8' },
  );
  const [previousId, previousInputs] = current.status === 0 ? current.stdout.trim().split(' ') : [];
  if (!opts.rebuild && previousInputs === inputs) {
    say(`${opts.tag} is up to date (base, Dockerfiles, package.json, package-lock.json, dist/ unchanged); reusing it`);
  } else {
    const t = Date.now();
    const common = ['build', '--runtime', 'runc', '--network=none', '--pull=never', '--force-rm'];
    // 1. The Dockerfile's `runtime` stage on the local base (its npm stages are not built).
    say(`podman build --target runtime (the Dockerfile's runtime stage on BASE=${base}, --network=none)`);
    const iidfile = join(work, 'runtime.iid');
    run('podman', [
      ...common,
      '--target',
      'runtime',
      '--build-arg',
      `BASE=${base}`,
      '--iidfile',
      iidfile,
      '-f',
      join(root, 'Dockerfile'),
      root,
    ]);
    const runtime = readFileSync(iidfile, 'utf8').trim();
    // 2. The app prepared in the context, on that (Dockerfile.prebuilt).
    say(
      `podman build ${opts.tag} (Dockerfile.prebuilt: node_modules/, package.json, dist/ from the context, --network=none)`,
    );
    run('podman', [
      ...common,
      '--build-arg',
      `RUNTIME=${runtime}`,
      '--label',
      `${LABEL_INPUTS}=${inputs}`,
      '--label',
      `org.opencontainers.image.version=${pkg.version}`,
      '-t',
      opts.tag,
      '-f',
      join(root, 'Dockerfile.prebuilt'),
      ctx,
    ]);
    const id = output('podman', ['image', 'inspect', '--format', '{{.Id}}', opts.tag]);
    // The image this one replaced, now untagged (kept if anything else still names or uses it).
    if (previousId && previousId !== id) run('podman', ['rmi', previousId], { check: false, quiet: true });
    say(`built in ${seconds(t)}`);
    const version = output('podman', [
      'run',
      '--rm',
      '--runtime',
      'runc',
      ...ulimitFlags(),
      '--network=none',
      '--read-only',
      opts.tag,
      '--version',
    ]);
    if (version !== pkg.version) fail(`the image's --version printed ${JSON.stringify(version)}, not ${pkg.version}`);
    say(`smoke test: podman run --rm --read-only ${opts.tag} --version → ${version}`);
  }
  const size = Number(output('podman', ['image', 'inspect', '--format', '{{.Size}}', opts.tag]));
  const baseSize = Number(output('podman', ['image', 'inspect', '--format', '{{.Size}}', base]));
  if (opts.save) await saveArchive('podman', opts.tag);
  say(`${opts.tag}: ${mb(size)} (base ${mb(baseSize)}, app ${mb(size - baseSize)}) (done in ${seconds(started)})`);
  say(`run it: podman run --rm --runtime runc ${ulimitFlags().join(' ')} ${opts.tag} --help`);
}

/** One `npm run image` at a time: they share the context directory and the image names. */
function lock() {
  mkdirSync(work, { recursive: true });
  const file = join(work, 'lock');
  try {
    writeFileSync(file, String(process.pid), { flag: 'wx' });
  } catch {
    const pid = Number(readFileSync(file, 'utf8'));
    let alive = false;
    try {
      process.kill(pid, 0);
      alive = true;
    } catch {
      // no such process: a stale lock
    }
    if (alive) fail(`another npm run image (pid ${pid}) is running (${file})`);
    writeFileSync(file, String(process.pid));
  }
  process.on('exit', () => {
    try {
      if (readFileSync(file, 'utf8') === String(process.pid)) rmSync(file, { force: true });
    } catch {
      // already gone
    }
  });
}

lock();
const engine = opts.engine ?? (dockerAnswers() ? 'docker' : 'podman');
if (!opts.engine)
  say(
    engine === 'docker'
      ? 'a Docker daemon answers: docker, from source (--engine podman for the offline build)'
      : 'no Docker daemon: podman, offline (base from the Debian mirror, Node from the npm package `node`)',
  );
await (engine === 'docker' ? withDocker() : withPodman());
