/**
 * The product's label, annotation and metric names the soak checks, spelled here once (the soak
 * runs with Node's type stripping and imports the product's code from dist/ only where it runs it;
 * test/unit/soak_names.test.ts checks these against src/).
 */
export const WATCHER_LABEL = 'deepflow.io/k8s-watcher';
export const REASON_ANNOTATION = 'deepflow.io/k8s-watch-policy-reason';
export const INJECTION_LABEL = 'deepflow.io/k8s-watch-policy-injection';
export const ROLE_LABEL = 'deepflow.io/role';
export const POLICY_ENV = 'K8S_WATCH_POLICY';
export const DEPRECATED_ENV = 'ONLY_WATCH_K8S_RESOURCE';
export const REVIEWS_METRIC = 'k8s_watch_policy_admission_reviews_total';
