/**
 * The continuous checks from a watch: every pod of the soak's namespace, in the API server's
 * order (list, then watch from its resourceVersion; a relist after any break). After each event:
 * never two pods labelled as the watcher at once (1a), and every agent pod carries the webhook's
 * reason annotation (3).
 */
import type { Api, Json } from './api.ts';
import type { History } from './history.ts';
import { annotationProblem, LabelledPods } from './invariants.ts';

export class Observer {
  readonly labelled = new LabelledPods();
  events = 0;
  relists = 0;
  private stopped = false;
  private stream: { abort(): void } | undefined;
  private readonly reported = new Set<string>();
  private loop: Promise<void> | undefined;
  private lastProblem: string | undefined;
  private wake: (() => void) | undefined;

  private readonly api: Api;
  private readonly namespace: string;
  private readonly history: History;

  constructor(api: Api, namespace: string, history: History) {
    this.api = api;
    this.namespace = namespace;
    this.history = history;
  }

  start(): void {
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.stream?.abort(); // an aborted stream calls no onDone: the loop is woken here
    this.wake?.();
    await this.loop;
  }

  private check(pod: Json, problem: string | undefined): void {
    // Reported when it starts (or changes), not again for every event while it lasts.
    if (problem && problem !== this.lastProblem) this.history.violation('single-watcher-label', problem);
    if (problem !== undefined || this.labelled.pods.length <= 1) this.lastProblem = problem;
    const missing = annotationProblem(pod);
    const uid = String(pod?.metadata?.uid ?? '');
    if (missing && !this.reported.has(uid)) {
      this.reported.add(uid);
      this.history.violation('admission', missing);
    }
  }

  private async run(): Promise<void> {
    const path = `/api/v1/namespaces/${this.namespace}/pods`;
    while (!this.stopped) {
      try {
        const { items, resourceVersion } = await this.api.list(path);
        this.relists++;
        const problem = this.labelled.replace(items);
        items.forEach((pod, i) => this.check(pod, i === 0 ? problem : undefined));
        if (items.length === 0 && problem) this.check({}, problem);
        await new Promise<void>((resolve) => {
          this.wake = resolve;
          this.api.product.watch
            .openWatch(
              this.api.kc,
              path,
              { resourceVersion, allowWatchBookmarks: true, timeoutSeconds: 300 },
              60_000,
              (type, object) => {
                if (type === 'BOOKMARK') return;
                if (type === 'ERROR') return void (this.stream?.abort(), resolve());
                this.events++;
                this.check(object as Json, this.labelled.apply(type, object as Json));
              },
              () => resolve(),
            )
            .then(
              (s) => {
                this.stream = s;
                if (this.stopped) {
                  s.abort();
                  resolve();
                }
              },
              () => resolve(),
            );
        });
      } catch {
        // the API server is down or restarting: list again
      }
      if (!this.stopped) await new Promise((r) => setTimeout(r, 500));
    }
  }
}
