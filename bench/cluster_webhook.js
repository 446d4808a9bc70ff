#!/usr/bin/env node
/**
 * The webhook in N processes behind one port with node:cluster, for the admission benchmark's
 * `info-x2` phase: the primary forks N workers that each run the built CLI with the arguments
 * given; their listen() calls share the primary's sockets (connections are dealt round-robin).
 * Not a product mode: it measures whether a second process on the same pod pays, against a
 * second replica.
 *
 *   node bench/cluster_webhook.js N dist/cli/main.js webhook ...
 *
 * SIGTERM is passed on to every worker; the primary exits 0 once all did.
 */
import cluster from 'node:cluster';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

if (cluster.isPrimary) {
  const [count, cliPath, ...args] = process.argv.slice(2);
  const n = Number(count);
  if (!Number.isInteger(n) || n < 1 || !cliPath) {
    process.stderr.write('usage: cluster_webhook.js N CLI ARGS...\n');
    process.exit(64);
  }
  cluster.setupPrimary({ args: [resolve(cliPath), ...args] });
  let failed = false;
  let running = n;
  for (let i = 0; i < n; i++) cluster.fork();
  cluster.on('exit', (_worker, code, signal) => {
    if (code !== 0 || signal) failed = true;
    if (--running === 0) process.exit(failed ? 1 : 0);
  });
  const stop = () => {
    for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGTERM');
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
} else {
  // process.argv of a worker: [node, this file, CLI, ...args]; the CLI reads its own argv.
  const [cliPath, ...args] = process.argv.slice(2);
  process.argv = [process.argv[0], cliPath, ...args];
  // The channel to the primary keeps a worker alive: once the CLI shuts down on SIGTERM (its own
  // handler), the worker must be able to exit with the CLI's exit code.
  process.once('SIGTERM', () => process.channel?.unref());
  await import(pathToFileURL(cliPath).href);
}
