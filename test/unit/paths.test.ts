import { expect, test } from '@jest/globals';
import { EVENTS, LEASES, PODS, resourcePath, SECRETS } from '../../src/kube/paths.ts';

test.each([
  [PODS, 'ns', undefined, '/api/v1/namespaces/ns/pods'],
  [PODS, 'ns', 'p-1', '/api/v1/namespaces/ns/pods/p-1'],
  [SECRETS, 'kwp', 'tls', '/api/v1/namespaces/kwp/secrets/tls'],
  [EVENTS, 'a b', undefined, '/api/v1/namespaces/a%20b/events'],
  [LEASES, 'kwp', 'k8s-watcher', '/apis/coordination.k8s.io/v1/namespaces/kwp/leases/k8s-watcher'],
  [LEASES, 'kwp', 'a/b', '/apis/coordination.k8s.io/v1/namespaces/kwp/leases/a%2Fb'],
])('%j in %s named %s: %s', (type, namespace, name, path) => {
  expect(resourcePath(type, namespace, name)).toBe(path);
});
