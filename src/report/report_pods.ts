/**
 * What `status` and `check` keep of a pod as its page of the list arrives: of an agent pod, what
 * the election reads (watcher_election/candidates.ts), still Pod-shaped so that `elect` runs on it
 * unchanged; of any other pod, nothing. So a report over 100,000 sidecar pods holds 100,000 small
 * records, not 100,000 pods (a sidecar pod is some 15 KB of heap without its managedFields, its
 * record under 500 bytes: bench/report_retained.ts).
 *
 * Kept: the name, namespace, uid, creation and deletion times, the watcher label; the node; of
 * the containers only the agent containers and those that carry ONLY_WATCH_K8S_RESOURCE (their
 * order kept, so the first agent is the same), each with its name, image, restartPolicy and only
 * the K8S_WATCH_POLICY and ONLY_WATCH_K8S_RESOURCE entries of its env; the phase and the Ready
 * condition. What repeats from pod to pod is kept once: strings (namespaces, node names) and
 * whole lists of containers (every sidecar of a Deployment has the same agent container), shared
 * and frozen, which `elect` only reads.
 */
import { agentContainers, isAgentContainer, isNativeSidecar, type ContainerField } from '../agent/agent_containers.ts';
import type { AgentConfig, Config } from '../config/config.ts';
import type {
  Container,
  EnvVar,
  KubeObject,
  ObjectMeta,
  Pod,
  PodCondition,
  PodSpec,
  PodStatus,
} from '../kube/objects.ts';
import { DEPRECATED_ENV, POLICY_ENV, WATCHER_LABEL } from '../policy/labels.ts';

const ELECTION_ENV = new Set([POLICY_ENV, DEPRECATED_ENV]);

/** One copy of each equal string, and of each equal list of containers, across the pods of one report. */
export interface Sharing {
  string: (s: string) => string;
  containers: (list: Container[]) => readonly Container[];
}

/** Up to `limit` different strings and lists are remembered; after that, new ones are kept as they are. */
export function sharing(limit = 20_000): Sharing {
  const strings = new Map<string, string>();
  const lists = new Map<string, readonly Container[]>();
  return {
    string: (s) => {
      const known = strings.get(s);
      if (known !== undefined) return known;
      if (strings.size < limit) strings.set(s, s);
      return s;
    },
    containers: (list) => {
      const key = JSON.stringify(list);
      const known = lists.get(key);
      if (known) return known;
      const frozen = Object.freeze(list.map((c) => Object.freeze({ ...c, ...(c.env && { env: freezeAll(c.env) }) })));
      if (lists.size < limit) lists.set(key, frozen);
      return frozen;
    },
  };
}

const freezeAll = <T extends object>(list: T[]): T[] => Object.freeze(list.map((x) => Object.freeze(x))) as T[];

type Intern = Sharing['string'];
const internIf = <T>(value: T, intern: Intern): T => (typeof value === 'string' ? (intern(value) as T) : value);

function electionEnv(container: Container, intern: Intern): EnvVar[] | undefined {
  if (!Array.isArray(container.env)) return undefined;
  const kept = container.env
    .filter((e) => ELECTION_ENV.has(e?.name))
    .map(({ name, value, valueFrom }) => ({
      name: intern(name),
      ...(typeof value === 'string' && { value: intern(value) }),
      ...(valueFrom !== undefined && { valueFrom }),
    }));
  return kept.length > 0 ? kept : undefined;
}

/** An agent container (or one with the deprecated variable) as the election reads it; undefined for any other. */
function electionContainer(field: ContainerField, c: Container, agent: AgentConfig, intern: Intern) {
  const env = electionEnv(c, intern);
  const isAgent =
    (field === 'containers' || (field === 'initContainers' && isNativeSidecar(c))) && isAgentContainer(c, agent);
  if (!isAgent && !env?.some((e) => e.name === DEPRECATED_ENV)) return undefined;
  return {
    name: internIf(c.name, intern),
    ...(c.image !== undefined && { image: internIf(c.image, intern) }),
    ...(env && { env }),
    ...(c.restartPolicy !== undefined && { restartPolicy: c.restartPolicy }),
  } as Container;
}

function electionContainers(field: ContainerField, list: unknown, agent: AgentConfig, intern: Intern) {
  if (!Array.isArray(list)) return undefined;
  const kept: Container[] = [];
  for (const c of list as Container[]) {
    const slim = electionContainer(field, c, agent, intern);
    if (slim) kept.push(slim);
  }
  return kept;
}

// Object literals of one shape each (no spreads): a record is some 480 bytes, not 570.
function electionMetadata(m: ObjectMeta, intern: Intern): ObjectMeta {
  const kept: ObjectMeta = {
    name: m.name,
    namespace: internIf(m.namespace, intern),
    uid: m.uid,
    creationTimestamp: m.creationTimestamp,
  };
  if (m.deletionTimestamp !== undefined) kept.deletionTimestamp = m.deletionTimestamp;
  const label = m.labels?.[WATCHER_LABEL];
  if (label !== undefined) kept.labels = { [WATCHER_LABEL]: label };
  return kept;
}

function electionStatus({ phase, conditions }: PodStatus): PodStatus {
  if (!Array.isArray(conditions)) return { phase, conditions };
  const ready = conditions.find((c: PodCondition | undefined) => c?.type === 'Ready');
  const kept = ready && { type: ready.type, status: ready.status, lastTransitionTime: ready.lastTransitionTime };
  return { phase, conditions: kept ? [kept] : [] };
}

/** The agent containers (and those with the deprecated variable) and the node; undefined without an agent. */
function electionSpec(spec: PodSpec, config: Config, shared: Sharing): PodSpec | undefined {
  const intern = shared.string;
  const containers = electionContainers('containers', spec.containers, config.agent, intern) ?? [];
  const init = electionContainers('initContainers', spec.initContainers, config.agent, intern) ?? [];
  if (agentContainers({ containers, initContainers: init }, config.agent).length === 0) return undefined;
  const ephemeral = electionContainers('ephemeralContainers', spec.ephemeralContainers, config.agent, intern) ?? [];
  const kept: PodSpec = {
    nodeName: internIf(spec.nodeName, intern),
    containers: shared.containers(containers) as Container[],
  };
  if (init.length > 0) kept.initContainers = init;
  if (ephemeral.length > 0) kept.ephemeralContainers = ephemeral;
  return kept;
}

/**
 * The election's view of an agent pod (see the module comment); undefined for a pod without an
 * agent container or outside the election's namespaces. `elect` over these gives what it gives
 * over the whole pods.
 */
export function electionPod(config: Config, shared: Sharing = sharing()): (object: KubeObject) => Pod | undefined {
  const namespaces = config.election.namespaces;
  return (object) => {
    const pod = object as Pod;
    if (namespaces.length > 0 && !namespaces.includes(pod.metadata?.namespace ?? 'default')) return undefined;
    const spec = electionSpec(pod.spec ?? {}, config, shared);
    if (!spec) return undefined;
    return {
      metadata: electionMetadata(pod.metadata ?? {}, shared.string),
      spec,
      status: electionStatus(pod.status ?? {}),
    };
  };
}
