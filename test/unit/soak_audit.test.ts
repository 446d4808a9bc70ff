/** The soak's reading of kube-apiserver's audit log (test/soak/audit.ts). */
import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { auditPolicy, parseAuditLine, parseAuditLog } from '../soak/audit.ts';

const event = (over: Record<string, unknown>) =>
  JSON.stringify({
    kind: 'Event',
    apiVersion: 'audit.k8s.io/v1',
    level: 'RequestResponse',
    stage: 'ResponseComplete',
    verb: 'patch',
    user: { username: 'soak-controller-0' },
    objectRef: { resource: 'pods', namespace: 'soak', name: 'p', apiVersion: 'v1' },
    responseStatus: { metadata: {}, code: 200 },
    ...over,
  });

describe('parseAuditLine', () => {
  test('a label write: user, the value it sets, the resourceVersion written', () => {
    const r = parseAuditLine(
      event({
        requestObject: { metadata: { uid: 'u', labels: { 'deepflow.io/k8s-watcher': 'true' } } },
        responseObject: { metadata: { resourceVersion: '1234' } },
      }),
      7,
    );
    expect(r).toMatchObject({
      line: 7,
      user: 'soak-controller-0',
      verb: 'patch',
      resource: 'pods',
      namespace: 'soak',
      name: 'p',
      code: 200,
      rv: 1234,
      watcherLabel: 'true',
    });
    const removed = parseAuditLine(
      event({
        requestObject: { metadata: { labels: { 'deepflow.io/k8s-watcher': null } } },
        responseObject: { metadata: { resourceVersion: '9' } },
      }),
      1,
    );
    expect(removed?.watcherLabel).toBeNull();
    expect(
      parseAuditLine(event({ requestObject: { metadata: { labels: { other: 'x' } } } }), 1)?.watcherLabel,
    ).toBeUndefined();
  });

  test('a Lease write: its holder ("" when released)', () => {
    const lease = (holder: unknown) =>
      event({
        verb: 'update',
        objectRef: { resource: 'leases', namespace: 'soak-system', name: 'l', apiGroup: 'coordination.k8s.io' },
        responseObject: { metadata: { resourceVersion: '55' }, spec: { holderIdentity: holder } },
      });
    expect(parseAuditLine(lease('soak-controller-1'), 1)).toMatchObject({
      resource: 'leases',
      holder: 'soak-controller-1',
      rv: 55,
    });
    expect(parseAuditLine(lease(null), 1)?.holder).toBe('');
  });

  test('a failed write has no resourceVersion; a refused pod creation keeps its message', () => {
    const r = parseAuditLine(
      event({
        verb: 'create',
        level: 'Metadata',
        responseStatus: { code: 400, message: 'admission webhook "x" denied the request: no' },
      }),
      3,
    );
    expect(r).toMatchObject({
      verb: 'create',
      code: 400,
      rv: undefined,
      message: 'admission webhook "x" denied the request: no',
    });
  });

  test('other stages, cut lines and garbage are skipped', () => {
    expect(parseAuditLine(event({ stage: 'RequestReceived' }), 1)).toBeUndefined();
    expect(parseAuditLine(event({}).slice(0, 40), 1)).toBeUndefined();
    expect(parseAuditLine('null', 1)).toBeUndefined();
    expect(parseAuditLine('[1,2]', 1)).toBeUndefined();
    expect(
      parseAuditLog(`${event({})}\n{"kind":"Ev\n\n${event({ verb: 'delete' })}\n`).map((r) => [r.line, r.verb]),
    ).toEqual([
      [1, 'patch'],
      [4, 'delete'],
    ]);
  });

  test('property: any line parses or is skipped, never throws', () => {
    fc.assert(fc.property(fc.oneof(fc.string(), fc.json()), (s) => void parseAuditLine(s, 1)));
    fc.assert(
      fc.property(
        fc.jsonValue(),
        (v) =>
          void parseAuditLine(
            JSON.stringify({
              stage: 'ResponseComplete',
              objectRef: v,
              responseObject: v,
              requestObject: v,
              user: v,
              responseStatus: v,
            }),
            1,
          ),
      ),
    );
  });
});

test("auditPolicy: the controllers' writes with their bodies, the system Leases, pod creations of the soak", () => {
  const policy = JSON.parse(auditPolicy('sys', 'work', ['c0', 'c1']));
  expect(policy.kind).toBe('Policy');
  expect(policy.rules.at(-1)).toEqual({ level: 'None' });
  expect(policy.rules[1]).toMatchObject({ level: 'RequestResponse', users: ['c0', 'c1'] });
});
