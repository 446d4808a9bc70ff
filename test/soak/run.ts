/**
 * One soak run, start to end: a fresh local control plane with an audit log, two webhook
 * replicas behind a round-robin balancer registered by URL with the chart's rules, two controller
 * replicas each behind its own relay with its own client certificate, the workload, the faults of
 * the seed's plan, the checks, the report, and everything stopped.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { down, readState, up } from '../cluster/cluster.ts';
import { KUBECONFIG, LOG_DIR, STATE_DIR } from '../cluster/paths.ts';
import { clientPair, ensurePki, kubeconfigYaml } from '../cluster/pki.ts';
import { runningPid } from '../cluster/processes.ts';
import { freePort } from '../support/free_port.ts';
import { tcpRelay, type TcpRelay } from '../support/tcp_relay.ts';
import { sleep } from '../support/wait.ts';
import { Api, type Json } from './api.ts';
import { auditPolicy, parseAuditLog } from './audit.ts';
import { balancer } from './balancer.ts';
import { inject, leader, type FaultTargets } from './faults.ts';
import { formatEvent, History } from './history.ts';
import {
  annotationProblem,
  checkLeaderWrites,
  classifyRefusal,
  convergenceProblem,
  counterSum,
  informerDiff,
  memoryProblem,
  podKey,
  RestartingCounter,
  type RssSample,
} from './invariants.ts';
import type { SoakOptions } from './main.ts';
import { Observer } from './observer.ts';
import { loadProduct, type Config } from './product.ts';
import { REVIEWS_METRIC, WATCHER_LABEL } from './product_names.ts';
import { rng } from './prng.ts';
import { CLI, Replica, type Exit } from './replica.ts';
import {
  classRows,
  formatCounters,
  formatMemory,
  formatTable,
  memoryByReplica,
  type FaultResult,
  type SoakReport,
} from './report.ts';
import { FAULT_CLASSES, planFaults, startsNext, type Fault } from './schedule.ts';
import { namespace, NAMESPACE, Workload } from './workload.ts';

const SYSTEM_NAMESPACE = 'soak-system';
const LEADER_LEASE = 'k8s-watch-policy-controller';
const WATCHER_LEASE = 'k8s-watcher';
const CONTROLLERS = ['soak-controller-0', 'soak-controller-1'];
/** The controllers' leader election: short, so that a fault plays out in seconds. */
const LEASE_MS = 6000;
const RENEW_MS = 4000;
const RETRY_MS = 1000;
const CONVERGE_TIMEOUT_MS = 120_000;
const CONFIG_NAME = 'k8s-watch-policy-soak';

const log = (line: string) => process.stderr.write(`[soak] ${line}\n`);

export async function runSoak(o: SoakOptions, ownDir: boolean): Promise<number> {
  const started = performance.now();
  const elapsed = () => performance.now() - started;
  const history = new History(elapsed);
  log(`seed ${o.seed}, ${o.minutes} min of faults; cluster in ${STATE_DIR}`);

  // A fresh cluster: no object of an earlier run, an empty audit log.
  await down();
  if (ownDir) rmSync(STATE_DIR, { recursive: true, force: true });
  mkdirSync(LOG_DIR, { recursive: true });
  const policyFile = join(STATE_DIR, 'audit-policy.json');
  const auditLog = join(LOG_DIR, 'audit.log');
  writeFileSync(policyFile, auditPolicy(SYSTEM_NAMESPACE, NAMESPACE, CONTROLLERS));
  writeFileSync(auditLog, '');
  const replicas: Replica[] = [];
  const relays: TcpRelay[] = [];
  let closeBalancer: (() => Promise<void>) | undefined;
  let shuttingDown = false;
  let cleaning: Promise<void> | undefined;
  // Everything this run started is stopped, whether it ends, fails or is interrupted (the control
  // plane's processes are detached: they would outlive a Ctrl-C).
  const cleanUp = () =>
    (cleaning ??= (async () => {
      shuttingDown = true;
      for (const rep of replicas) await rep.kill('SIGKILL').catch(() => undefined);
      for (const relay of relays) await relay.close();
      await closeBalancer?.();
      if (o.keep)
        log(
          `kept: export KUBECONFIG=${KUBECONFIG} (the webhook and controller replicas are stopped); remove with K8S_WATCH_POLICY_CLUSTER_DIR=${STATE_DIR} npm run cluster -- down`,
        );
      else if (existsSync(STATE_DIR)) await down();
    })());
  const interrupted = (signal: NodeJS.Signals) => {
    log(`${signal}: stopping everything`);
    void cleanUp().finally(() => process.exit(130));
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  try {
    await up({
      apiserverArgs: [
        `--audit-policy-file=${policyFile}`,
        `--audit-log-path=${auditLog}`,
        '--audit-log-maxsize=0',
        '--audit-log-format=json',
      ],
    });
    const state = readState()!;
    const pki = await ensurePki();
    const product = await loadProduct();
    const admin = await product.kubeconfig.loadRestConfig(KUBECONFIG);
    if (!admin) throw new Error(`cannot load ${KUBECONFIG}`);
    const api = new Api(product, admin);

    // The config both processes run with: the defaults, the election in the soak's namespace.
    const configFile = join(STATE_DIR, 'soak-config.json');
    const configValue = { election: { namespaces: [NAMESPACE], leaseName: WATCHER_LEASE } };
    writeFileSync(configFile, JSON.stringify(configValue));
    const config: Config = product.config.configFromValue(configValue);

    await api.apply('/api/v1/namespaces', namespace());
    await api.apply('/api/v1/namespaces', {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: SYSTEM_NAMESPACE },
    });

    // Two webhook replicas behind one balancer, registered by URL with the chart's rules.
    const certDir = join(STATE_DIR, 'webhook-certs');
    const certs = spawnSync(process.execPath, [CLI, 'certs', '--out', certDir, '--dns', 'localhost,127.0.0.1'], {
      encoding: 'utf8',
    });
    if (certs.status !== 0) throw new Error(`certs: ${certs.stderr}`);
    const ca = readFileSync(join(certDir, 'ca.crt'), 'utf8');
    const counters: Record<string, number> = {};
    const count = (k: string, n = 1) => (counters[k] = (counters[k] ?? 0) + n);
    const onExit = (exit: Exit) => {
      const how = exit.signal ?? `code ${exit.code}`;
      if (exit.requested || shuttingDown)
        return void history.add(
          'exit',
          `${exit.replica} (#${exit.incarnation}) exited: ${how}${exit.requested ? ' (asked)' : ''}`,
        );
      const replica = replicas.find((r) => r.name === exit.replica)!;
      if (replica.o.role === 'controller' && exit.code === 70) {
        count('controllerExits70');
        history.add(
          'exit',
          `${exit.replica} (#${exit.incarnation}) exited 70 (lost its leadership, or no API server at start): restarting`,
        );
      } else {
        history.violation('processes', `${exit.replica} (#${exit.incarnation}) exited on its own: ${how}`);
      }
      setTimeout(() => shuttingDown || replica.running || replica.start(), 1000);
    };
    const webhooks: Replica[] = [];
    for (let i = 0; i < 2; i++) {
      const [port, metricsPort] = [await freePort(), await freePort()];
      const args = [
        '--config',
        configFile,
        '--kubeconfig',
        KUBECONFIG,
        '--cert-dir',
        certDir,
        '--host',
        '127.0.0.1',
        '--port',
        String(port),
        '--metrics-port',
        String(metricsPort),
        '--drain-delay',
        '0',
        '--log-level',
        'warn',
      ];
      const w = new Replica({
        name: `webhook-${i}`,
        role: 'webhook',
        args,
        logFile: join(LOG_DIR, `soak-webhook-${i}.log`),
        readyUrl: `https://127.0.0.1:${port}/readyz`,
        ca,
        port,
        metricsUrl: `http://127.0.0.1:${metricsPort}/metrics`,
        onExit,
      });
      webhooks.push(w);
      replicas.push(w);
      w.start();
    }
    for (const w of webhooks)
      if (!(await w.ready())) throw new Error(`${w.name} did not become ready; see ${w.o.logFile}`);
    const lb = await balancer(webhooks.map((w) => w.o.port));
    closeBalancer = lb.close;
    const { mutating, validating } = product.webhookConfiguration.webhookConfigurations({
      name: CONFIG_NAME,
      clientConfig: (path) => ({
        url: `https://127.0.0.1:${lb.port}${path}`,
        caBundle: Buffer.from(ca).toString('base64'),
      }),
      excludeNamespaces: [SYSTEM_NAMESPACE],
      failurePolicy: 'Fail',
      timeoutSeconds: 10,
    });
    await api.apply('/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations', mutating);
    await api.apply('/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations', validating);

    // Two controller replicas, each with its own client certificate (its user in the audit log is its identity) and relay.
    const controllers: Replica[] = [];
    for (const name of CONTROLLERS) {
      const pair = await clientPair(name, name, 'system:masters');
      const relay = await tcpRelay(new URL(state.server));
      relays.push(relay);
      const kubeconfig = join(STATE_DIR, `${name}.kubeconfig`);
      writeFileSync(kubeconfig, kubeconfigYaml(relay.url, pki, { ...pair, user: name }), { mode: 0o600 });
      const port = await freePort();
      const args = [
        ...[
          '--config',
          configFile,
          '--kubeconfig',
          kubeconfig,
          '--namespace',
          SYSTEM_NAMESPACE,
          '--identity',
          name,
          '--leader-lease',
          LEADER_LEASE,
        ],
        ...[
          '--host',
          '127.0.0.1',
          '--metrics-port',
          String(port),
          '--drain-delay',
          '0',
          '--multiple-watch-only-grace',
          '5s',
        ],
        ...[
          '--lease-duration',
          `${LEASE_MS}ms`,
          '--renew-deadline',
          `${RENEW_MS}ms`,
          '--retry-period',
          `${RETRY_MS}ms`,
        ],
      ];
      const base = `http://127.0.0.1:${port}`;
      const c = new Replica({
        name,
        role: 'controller',
        args,
        logFile: join(LOG_DIR, `soak-${name}.log`),
        readyUrl: `${base}/readyz`,
        port,
        metricsUrl: `${base}/metrics`,
        statusUrl: `${base}/status`,
        onExit,
      });
      controllers.push(c);
      replicas.push(c);
      c.start();
    }
    for (const c of controllers)
      if (!(await c.ready())) throw new Error(`${c.name} did not become ready; see ${c.o.logFile}`);

    // Samplers: RSS of every replica, the webhooks' error answers, the API server's view of the webhook's answers.
    const rss = new Map<string, RssSample[]>();
    const webhookErrors = new RestartingCounter();
    const webhookReviews = new RestartingCounter();
    const apiserver5xx = new RestartingCounter();
    const apiserverCallingErrors = new RestartingCounter();
    /** The API server's 5xx calls between a webhook replica's SIGKILL and convergence after its restart. */
    let apiserver5xxOfKills = 0;
    const scrapeWebhook = async (w: Replica) => {
      const text = await fetch(w.o.metricsUrl, { signal: AbortSignal.timeout(2000) }).then(
        (r) => r.text(),
        () => undefined,
      );
      if (text === undefined) return;
      webhookErrors.observe(`${w.name}#${w.incarnation}`, counterSum(text, REVIEWS_METRIC, { result: 'error' }));
      webhookReviews.observe(`${w.name}#${w.incarnation}`, counterSum(text, REVIEWS_METRIC));
    };
    const scrapeApiserver = async () => {
      const text = await api.request<string>('GET', '/metrics', undefined, undefined, 5000).catch(() => undefined);
      const pid = runningPid('kube-apiserver');
      if (typeof text !== 'string' || pid === undefined) return;
      apiserver5xx.observe(String(pid), counterSum(text, 'apiserver_admission_webhook_request_total', { code: /^5/ }));
      apiserverCallingErrors.observe(
        String(pid),
        counterSum(text, 'apiserver_admission_webhook_rejection_count', { error_type: 'calling_webhook_error' }),
      );
    };
    let sampling = true;
    const sampler = (async () => {
      for (let tick = 0; sampling; tick++) {
        for (const r of replicas) {
          const bytes = r.rssBytes();
          if (bytes !== undefined && !r.paused) {
            const key = `${r.name}#${r.incarnation}`;
            if (!rss.has(key)) rss.set(key, []);
            rss.get(key)!.push({ t: elapsed(), rssBytes: bytes });
          }
        }
        await Promise.all(webhooks.filter((w) => w.running).map(scrapeWebhook));
        if (tick % 3 === 0) await scrapeApiserver();
        await sleep(2000);
      }
    })();

    // The workload, in the background; paused while convergence is measured.
    const r = rng(o.seed ^ 0x5eed);
    const workload = new Workload(api, r);
    await workload.setUp();
    const observer = new Observer(api, NAMESPACE, history);
    observer.start();
    let workloadOn = true;
    let workloadStop = false;
    let webhookDisturbed = false;
    const runner = (async () => {
      while (!workloadStop) {
        if (workloadOn) {
          try {
            const step = await workload.step();
            count('workloadSteps');
            history.add('workload', `${step.action}: ${step.detail}`);
            if (step.created) {
              const c = step.created;
              count('directCreates');
              if (c.code >= 200 && c.code < 300) {
                count('directAdmitted');
                if (c.expectDenied)
                  history.violation('admission', `a pod with ONLY_WATCH_K8S_RESOURCE was admitted: ${step.detail}`);
                const missing = annotationProblem(c.pod ?? {});
                if (missing) history.violation('admission', `admitted without its policy: ${missing}`);
              } else {
                const kind = classifyRefusal(c.code, c.message);
                count(`directRefused:${kind}`);
                if (kind === 'denied-undocumented')
                  history.violation('admission', `refused for an undocumented reason: ${c.message}`);
                else if (kind === 'denied-documented' && !c.expectDenied)
                  history.violation('admission', `a valid agent pod was refused: ${c.message}`);
                else if (kind === 'webhook-unreachable' && !webhookDisturbed)
                  history.violation('admission', `the webhook did not answer while no fault touched it: ${c.message}`);
                if (c.code >= 500 && kind !== 'webhook-unreachable' && kind !== 'not-admission')
                  history.violation('admission', `a 5xx admission answer: ${c.message}`);
              }
            }
          } catch (err) {
            count('workloadErrors');
            history.add('workload', `failed: ${(err as Error).message.slice(0, 200)}`);
          }
        }
        await sleep(r.int(300, 1200));
      }
    })();

    const watcherLeasePath = `/apis/coordination.k8s.io/v1/namespaces/${SYSTEM_NAMESPACE}/leases/${WATCHER_LEASE}`;
    const leaderLeasePath = `/apis/coordination.k8s.io/v1/namespaces/${SYSTEM_NAMESPACE}/leases/${LEADER_LEASE}`;

    /** One check of convergence: undefined when the published election is what a fresh list elects. */
    const convergence = async (): Promise<string | undefined> => {
      const [pods, nodes, lease] = await Promise.all([
        api.list(`/api/v1/namespaces/${NAMESPACE}/pods`),
        api.list('/api/v1/nodes'),
        api.find(watcherLeasePath),
      ]);
      const holder: string | undefined = lease?.spec?.holderIdentity || undefined;
      const uid: string | undefined = lease?.metadata?.annotations?.['deepflow.io/watcher-uid'];
      const [ns, name] = holder?.split('/') ?? [];
      const current = ns && name ? { namespace: ns, name, ...(uid && { uid }) } : undefined;
      const election = product.elect.elect(pods.items, nodes.items, current, config);
      const labelled = pods.items.filter((p) => p.metadata?.labels?.[WATCHER_LABEL] === 'true').map(podKey);
      const elected = election.watcher && {
        namespace: election.watcher.namespace,
        name: election.watcher.name,
        uid: election.watcher.uid,
      };
      return convergenceProblem({ holder, uid }, elected, labelled);
    };
    const measureConvergence = async (what: string): Promise<number | undefined> => {
      const t0 = performance.now();
      let last: string | undefined = 'not checked yet';
      while (performance.now() - t0 < CONVERGE_TIMEOUT_MS) {
        last = await convergence().catch((err: unknown) => `cannot check: ${(err as Error).message}`);
        if (last === undefined) {
          const ms = Math.round(performance.now() - t0);
          history.add('converged', `${what} in ${ms} ms`);
          return ms;
        }
        await sleep(250);
      }
      history.violation('convergence', `${what}: not converged within ${CONVERGE_TIMEOUT_MS / 1000} s: ${last}`);
      return undefined;
    };

    let auditChecked = 0;
    const checkAudit = (final: boolean) => {
      const records = parseAuditLog(readFileSync(auditLog, 'utf8'));
      const result = checkLeaderWrites(records, { namespace: SYSTEM_NAMESPACE, name: LEADER_LEASE }, CONTROLLERS);
      for (const p of result.problems.slice(auditChecked)) history.violation('leader-only-writes', p);
      auditChecked = Math.max(auditChecked, result.problems.length);
      if (final) {
        counters.controllerWritesChecked = result.checked;
        counters.labelWritesChecked = result.labelWrites;
        const creates = records.filter(
          (x) => x.resource === 'pods' && x.verb === 'create' && x.subresource === '' && x.namespace === NAMESPACE,
        );
        counters.podCreatesAudited = creates.length;
        for (const c of creates.filter((x) => x.code >= 400)) {
          const kind = classifyRefusal(c.code, c.message);
          count(`auditRefused:${kind}`);
          if (kind === 'denied-undocumented')
            history.violation(
              'admission',
              `pod creation refused for an undocumented reason (audit line ${c.line}): ${c.message}`,
            );
        }
      }
    };

    const watcherPod = async () => {
      const labelled = await api
        .list(`/api/v1/namespaces/${NAMESPACE}/pods`, { labelSelector: `${WATCHER_LABEL}=true` })
        .catch(() => undefined);
      const name = labelled?.items[0]?.metadata?.name;
      return name ? `/api/v1/namespaces/${NAMESPACE}/pods/${name}` : undefined;
    };
    const targets: FaultTargets = {
      api,
      history,
      controllers,
      relays,
      webhooks,
      leaderLeasePath,
      watcherPod,
      beforeWebhookKill: scrapeWebhook,
    };
    await leader(targets);
    workloadOn = false;
    await measureConvergence('initial election');
    workloadOn = true;

    const faults = planFaults(o.seed, 1000, { leaseMs: LEASE_MS });
    const results: FaultResult[] = [];
    const budgetMs = o.minutes * 60_000;
    const faultsStarted = performance.now();
    let fault: Fault | undefined;
    for (let i = 0; i < faults.length && startsNext(i, performance.now() - faultsStarted, budgetMs); i++) {
      fault = faults[i]!;
      await sleep(fault.gapMs);
      history.currentFault = fault.class;
      webhookDisturbed = ['webhook-kill', 'apiserver-kill', 'etcd-kill'].includes(fault.class);
      log(`fault #${i} ${fault.class} (hold ${fault.holdMs} ms)`);
      // A SIGKILLed replica cannot answer: kube-apiserver does not retry a POST on a connection the
      // dead replica's end closed (EOF), and counts that call as a 5xx. Counted apart, not a violation.
      const killing = fault.class === 'webhook-kill';
      if (killing) await scrapeApiserver();
      const apiserver5xxBefore = apiserver5xx.total;
      try {
        await inject(fault, targets);
      } catch (err) {
        history.violation('processes', `${fault.class} #${i} could not be healed: ${(err as Error).message}`);
      }
      workloadOn = false;
      const ms = await measureConvergence(`after ${fault.class} #${i}`);
      results.push({ class: fault.class, convergeMs: ms });
      if (killing) {
        await scrapeApiserver();
        apiserver5xxOfKills += apiserver5xx.total - apiserver5xxBefore;
      }
      checkAudit(false);
      webhookDisturbed = false;
      workloadOn = true;
      if (history.violations.length > 0) {
        log(`violation found: stopping the faults`);
        break;
      }
    }

    // The end: quiet, converged, informers equal to the API server, then SIGTERM everything.
    workloadStop = true;
    await runner;
    history.currentFault = undefined;
    history.add('end', 'workload stopped');
    log('the end: convergence, informers, SIGTERM, audit');
    await measureConvergence('at the end');
    const fresh = async () => {
      const [pods, nodes] = await Promise.all([
        api.list(`/api/v1/namespaces/${NAMESPACE}/pods`),
        api.list('/api/v1/nodes'),
      ]);
      const lease = await api.find(watcherLeasePath);
      const holder: string | undefined = lease?.spec?.holderIdentity || undefined;
      const [ns, name] = holder?.split('/') ?? [];
      return product.elect.elect(pods.items, nodes.items, ns && name ? { namespace: ns, name } : undefined, config)
        .candidates;
    };
    for (const c of controllers) {
      let diff: string[] = ['not checked'];
      const deadline = performance.now() + 30_000;
      while (diff.length > 0 && performance.now() < deadline) {
        const status = await fetch(c.o.statusUrl!, { signal: AbortSignal.timeout(3000) }).then(
          (x) => x.json() as Promise<Json>,
          () => undefined,
        );
        diff = status ? informerDiff(status.candidates ?? [], await fresh()) : ['no /status'];
        if (diff.length > 0) await sleep(500);
      }
      if (diff.length > 0)
        history.violation(
          'informers',
          `${c.name}'s informers differ from the API server: ${diff.slice(0, 10).join('; ')}`,
        );
      else history.add('informers', `${c.name}: its informers match a fresh list`);
    }
    await observer.stop();
    counters.watchEvents = observer.events;
    counters.watchRelists = observer.relists;
    sampling = false;
    await sampler;
    await Promise.all(webhooks.map(scrapeWebhook));
    await scrapeApiserver();
    // A replica that exited 70 just before may still wait for its restart: every one runs before the SIGTERM.
    for (const rep of replicas) {
      if (!rep.running) rep.start();
      if (!(await rep.ready(60_000))) history.violation('processes', `${rep.name} is not ready at the end`);
    }
    shuttingDown = true;
    for (const rep of replicas) {
      const exit = await rep.kill('SIGTERM');
      if (!exit) history.violation('processes', `${rep.name} was not running at the end`);
      else if (exit.code !== 0)
        history.violation('processes', `${rep.name} exited ${exit.signal ?? `with code ${exit.code}`} on SIGTERM`);
    }
    counters.webhookReviews = webhookReviews.total;
    counters.webhookErrorAnswers = webhookErrors.total;
    counters.apiserverWebhook5xx = apiserver5xx.total;
    counters.apiserverWebhook5xxDuringWebhookKill = apiserver5xxOfKills;
    counters.apiserverWebhookCallingErrors = apiserverCallingErrors.total;
    if (webhookErrors.total > 0)
      history.violation(
        'admission',
        `the webhooks answered ${webhookErrors.total} reviews with an error (result="error")`,
      );
    if (apiserver5xx.total > apiserver5xxOfKills)
      history.violation(
        'admission',
        `kube-apiserver counted ${apiserver5xx.total - apiserver5xxOfKills} webhook answers with a 5xx code (${apiserver5xxOfKills} more while a replica was SIGKILLed)`,
      );
    checkAudit(true);
    const memory: SoakReport['memory'] = {};
    for (const [key, samples] of rss) {
      const problem = memoryProblem(samples);
      if (problem) history.violation('memory', `${key}: ${problem}`);
      const mib = (b: number) => Math.round((b / 1048576) * 10) / 10;
      memory[key] = {
        samples: samples.length,
        firstMiB: mib(samples[0]!.rssBytes),
        lastMiB: mib(samples.at(-1)!.rssBytes),
        maxMiB: mib(Math.max(...samples.map((s) => s.rssBytes))),
      };
    }
    counters.faults = results.length;

    // The report.
    const rows = classRows(results, history.violations);
    const passed =
      history.violations.length === 0 && FAULT_CLASSES.every((cls) => results.some((x) => x.class === cls));
    const report: SoakReport = {
      seed: o.seed,
      minutes: o.minutes,
      durationS: Math.round(elapsed() / 1000),
      passed,
      classes: rows,
      faults: results,
      violations: history.violations,
      counters,
      memory,
    };
    process.stdout.write(
      `\nsoak: seed ${o.seed}, ${o.minutes} min of faults, ${report.durationS} s in all\n\n${formatTable(rows)}\n\n${formatCounters(counters)}\n`,
    );
    process.stdout.write(`${formatMemory(memoryByReplica(memory))}\n`);
    for (const v of history.violations) {
      process.stdout.write(
        `\nVIOLATION (${v.invariant}, seed ${o.seed}${v.fault ? `, during/after ${v.fault}` : ''}): ${v.message}\nhistory around it:\n`,
      );
      for (const e of history.around(v.seq)) process.stdout.write(`  ${formatEvent(e)}\n`);
    }
    process.stdout.write(
      `\n${passed ? 'PASSED' : 'FAILED'}: ${history.violations.length} violation(s); replay with --seed ${o.seed}\n`,
    );
    if (o.json) writeFileSync(o.json, JSON.stringify({ ...report, history: history.events }, null, 2) + '\n');
    return passed ? 0 : 1;
  } finally {
    process.off('SIGINT', interrupted);
    process.off('SIGTERM', interrupted);
    await cleanUp();
  }
}
