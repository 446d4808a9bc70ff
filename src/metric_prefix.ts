/** The prefix of every metric name (DESIGN §8), shared by the webhook and the controller. */
export const METRIC_PREFIX = 'k8s_watch_policy_';
