/**
 * The upstream deepflow-agent chart end to end in the pure core: the pods of the golden cases
 * test/golden/upstream-agent-7.1*.out.yaml (what `inject` admits: the pods the DaemonSet and
 * the watcher's ReplicaSet create) are set running and elected, as the controller would see them.
 */
import { describe, expect, test } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { defaultConfig } from '../../src/config/config.ts';
import { elect } from '../../src/watcher_election/elect.ts';
import type { Node, Pod } from '../../src/kube/objects.ts';

const GOLDEN_DIR = fileURLToPath(new URL('../golden/', import.meta.url));

/** The admitted pods of a golden case, Running and Ready on their target node, in document order one second apart. */
function running(name: string): { pods: Pod[]; nodes: Node[] } {
  const docs = parseAllDocuments(readFileSync(`${GOLDEN_DIR}${name}.out.yaml`, 'utf8')).map((d) => d.toJS() as Pod);
  const nodes = docs.filter((d) => d.kind === 'Node') as Node[];
  const pods = docs
    .filter((d) => d.kind === 'Pod')
    .map((p, i): Pod => {
      const terms = p.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms;
      const nodeName = p.spec?.nodeName ?? terms?.[0]?.matchFields?.[0]?.values?.[0] ?? 'node-a';
      const at = new Date(Date.UTC(2026, 10, 28, 12, 0, i)).toISOString();
      return {
        ...p,
        metadata: { ...p.metadata, uid: `uid-${p.metadata?.name}`, creationTimestamp: at },
        spec: { ...p.spec, nodeName },
        status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: at }] },
      };
    });
  return { pods, nodes };
}

const standing = (election: ReturnType<typeof elect>) =>
  Object.fromEntries(election.candidates.map((c) => [c.name, `${c.policy}/${c.reason}`]));

describe('the upstream deepflow-agent chart, admitted and running', () => {
  test('defaults: the watcher Deployment watches; DaemonSet agents on ordinary nodes are the fallback', () => {
    const { pods, nodes } = running('upstream-agent-7.1');
    const election = elect(pods, nodes, undefined, defaultConfig());
    expect(election.watcher).toMatchObject({ name: 'deepflow-agent-watcher-6c9f7d8b5-k2m4n', policy: 'only-watch' });
    expect(election.reason).toBe('oldest-ready');
    expect(standing(election)).toEqual({
      'deepflow-agent-a1b2c': 'normal/lower-tier',
      'deepflow-agent-v9x8w': 'watch-disabled/watch-disabled',
      'deepflow-agent-watcher-6c9f7d8b5-k2m4n': 'only-watch/elected',
    });
  });

  test('without the webhook the design spelling would have no effect: only-watch reads as normal', () => {
    const { pods, nodes } = running('upstream-agent-7.1');
    const designSpelling = pods.map((p) =>
      p.metadata?.name?.startsWith('deepflow-agent-watcher')
        ? {
            ...p,
            spec: {
              ...p.spec,
              containers: [{ ...p.spec!.containers![0]!, env: [{ name: 'K8S_WATCH_POLICY', value: 'only-watch' }] }],
            },
          }
        : p,
    );
    const election = elect(designSpelling, nodes, undefined, defaultConfig());
    expect(election.watcher?.name).toBe('deepflow-agent-a1b2c');
    expect(standing(election)['deepflow-agent-watcher-6c9f7d8b5-k2m4n']).toBe('normal/standby');
  });

  test('daemonsetWatchDisabled: only the watcher may watch', () => {
    const { pods, nodes } = running('upstream-agent-7.1-watch-disabled');
    const election = elect(pods, nodes, undefined, defaultConfig());
    expect(election.watcher?.name).toBe('deepflow-agent-watcher-6c9f7d8b5-k2m4n');
    expect(standing(election)).toEqual({
      'deepflow-agent-a1b2c': 'watch-disabled/watch-disabled',
      'deepflow-agent-v9x8w': 'watch-disabled/watch-disabled',
      'deepflow-agent-watcher-6c9f7d8b5-k2m4n': 'only-watch/elected',
    });
  });

  test('tkeSidecar without a watcher: the DaemonSet agent on the ordinary node is the natural watcher', () => {
    const { pods, nodes } = running('upstream-agent-7.1-tke-sidecar');
    const election = elect(pods, nodes, undefined, defaultConfig());
    expect(election.watcher).toMatchObject({ name: 'deepflow-agent-a1b2c', policy: 'normal' });
    expect(standing(election)).toEqual({
      'deepflow-agent-a1b2c': 'normal/elected',
      'deepflow-agent-v9x8w': 'watch-disabled/watch-disabled',
      'shop-5f6d7c8b9-q7r8s': 'watch-disabled/watch-disabled',
    });
  });
});
