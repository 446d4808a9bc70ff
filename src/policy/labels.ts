/** Labels and annotations of DESIGN §3 (prefix `deepflow.io/`) and the agent's environment. */

/** Namespace or Pod label: `enabled` / `disabled`. `disabled` on a pod opts it out of mutation. */
export const INJECTION_LABEL = 'deepflow.io/k8s-watch-policy-injection';
/** Pod (template) label: an explicit decision (`only-watch`, `watch-only`, `watch-disabled`, `normal`). */
export const POLICY_LABEL = 'deepflow.io/k8s-watch-policy';
/** Pod (template) label of the default watcher selector. */
export const ROLE_LABEL = 'deepflow.io/role';
/** Pod annotation set by the webhook: `<policy>/<rule>`. */
export const REASON_ANNOTATION = 'deepflow.io/k8s-watch-policy-reason';
/** Pod label set by the controller on the elected watcher. */
export const WATCHER_LABEL = 'deepflow.io/k8s-watcher';

/** Lease annotations written by the controller. */
export const LEASE_WATCHER_UID = 'deepflow.io/watcher-uid';
export const LEASE_WATCHER_NODE = 'deepflow.io/watcher-node';
export const LEASE_WATCHER_POLICY = 'deepflow.io/watcher-policy';
export const LEASE_ELECTION_REASON = 'deepflow.io/election-reason';

/** The environment variable every agent reads. */
export const POLICY_ENV = 'K8S_WATCH_POLICY';
/** The deprecated predecessor: an agent that finds it (any value, even empty) exits. */
export const DEPRECATED_ENV = 'ONLY_WATCH_K8S_RESOURCE';
