// The fault seam: a REAL Kube, talking to the real test API server, that fails or races on demand,
// in the spirit of helm-controller's storage.Failing (a real Helm driver that returns configured
// errors). Activities get it through their KubeFor like any Kube, so a test reaches the branches
// only a flaky or contended API server takes. Every call not armed goes straight through.
import type { KubeFor } from '../../activities/clusters';
import { KubeUnavailableError, type KubeApi, type RecordKind } from '../../activities/kubernetes';

type Method = keyof KubeApi;
/** Runs instead of one call: gets the real Kube (to pass the call on, or to race it) and the arguments. */
export type Fault<M extends Method> = (real: KubeApi, ...args: Parameters<KubeApi[M]>) => ReturnType<KubeApi[M]>;

export class FailingKube {
  /** Every call made through the wrapper, in order, with `!` on those a fault answered. */
  readonly calls: string[] = [];
  readonly api: KubeApi;
  private readonly armed = new Map<Method, { fault: (real: KubeApi, args: unknown[]) => unknown; left: number }>();

  constructor(readonly real: KubeApi) {
    this.api = new Proxy(real, {
      get: (target, prop, receiver) => {
        const value: unknown = Reflect.get(target, prop, receiver);
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => this.dispatch(prop as Method, value as (...a: unknown[]) => unknown, args);
      },
    });
  }

  /** The next `times` calls of `method` run `fault` instead. */
  on<M extends Method>(method: M, fault: Fault<M>, times = 1): this {
    this.armed.set(method, { fault: (real, args) => fault(real, ...(args as Parameters<KubeApi[M]>)), left: times });
    return this;
  }

  /** Whether every armed fault has fired: a test whose fault never fired proved nothing. */
  get spent(): boolean {
    return [...this.armed.values()].every((a) => a.left === 0);
  }

  private dispatch(method: Method, real: (...a: unknown[]) => unknown, args: unknown[]): unknown {
    const a = this.armed.get(method);
    if (a && a.left > 0) {
      a.left--;
      this.calls.push(`${method}!`);
      return a.fault(this.real, args);
    }
    this.calls.push(method);
    return real.apply(this.real, args);
  }
}

/** A KubeFor handing out the same FailingKube around one real cluster. */
export function failingKubeFor(real: KubeFor, cluster: string): { kubeFor: KubeFor; kube: FailingKube } {
  const kube = new FailingKube(real(cluster));
  return { kube, kubeFor: (c) => (c === cluster ? kube.api : real(c)) };
}

/** What the adapter throws for a 5xx or a dropped connection (translate() in activities/kubernetes/request.ts). */
export function unavailable(what: string, status = 500): KubeUnavailableError {
  return new KubeUnavailableError(`${what}: HTTP ${status} (injected)`, status);
}

/** Another actor writes the record (an annotation only): it gets a new resourceVersion. */
export async function touch(real: KubeApi, kind: RecordKind, namespace: string, name: string): Promise<void> {
  const cur = await real.getRecord(kind, namespace, name);
  if (!cur) throw new Error(`touch: no ${kind} ${namespace}/${name}`);
  await real.replaceRecord(
    {
      kind,
      name,
      namespace,
      labels: cur.labels,
      annotations: { ...cur.annotations, 'touched-by': 'another-operator' },
      ...(cur.type ? { type: cur.type } : {}),
      data: cur.data ?? {},
    },
    cur.resourceVersion,
  );
}
