/**
 * How the local cluster tells that a process it started still runs (test/cluster/processes.ts):
 * by the pid's cmdline, and through the instant of execve, when the cmdline reads empty.
 */
import { describe, expect, test } from '@jest/globals';
import { processRuns } from '../cluster/processes.ts';

const BIN = '/root/.cache/k8s-watch-policy/bin/containerd';
const stat = (comm: string, state: string, flags: number) =>
  `4242 (${comm}) ${state} 1 4242 4242 0 -1 ${flags} 99 0 0 0 0 0 0 0 20 0 1 0 824367 3133440 373`;
const USER = 4194304; // PF_RANDOMIZE, as /proc/self/stat shows for a user process
const KTHREAD = 2129984; // kthreadd's flags: PF_KTHREAD among them

describe('processRuns', () => {
  test.each([
    ['the binary itself', `${BIN}\0--config\0c.toml\0`, stat('containerd', 'S', USER), true],
    [
      'nsenter about to exec it',
      `/usr/bin/nsenter\0--net=/run/netns/n\0--\0${BIN}\0`,
      stat('nsenter', 'S', USER),
      true,
    ],
    ['inside execve (empty cmdline, live user process)', '', stat('nsenter', 'R', USER), true],
    ['a comm with spaces and parentheses inside execve', '', stat('a) b (c', 'D', USER), true],
    ['a zombie', '', stat('containerd', 'Z', USER), false],
    ['a dead task', '', stat('containerd', 'X', USER), false],
    ['a pid reused by a kernel thread', '', stat('kworker/0:1', 'I', KTHREAD), false],
    ['a pid reused by another program', '/usr/bin/sleep\x009\0', stat('sleep', 'S', USER), false],
    ['nsenter running something else', '/usr/bin/nsenter\0--net=/n\0--\0/bin/sh\0', stat('nsenter', 'S', USER), false],
    ['no stat (gone between the two reads)', '', undefined, false],
  ])('%s', (_what, cmdline, procStat, expected) => {
    expect(processRuns(cmdline, procStat, BIN)).toBe(expected);
  });
});
