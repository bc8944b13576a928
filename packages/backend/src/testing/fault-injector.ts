import type { Backend } from '../backend.js';
import { type FaultSite, InjectedFaultError } from './injected-fault-error.js';

/** When a site fails: `after` more calls succeed, then `count` calls in a row fail (default 1). */
export interface FaultPlan {
  /** Calls that still succeed first (0: the very next call fails). */
  readonly after: number;
  /** Consecutive calls that fail (default 1; `Infinity` until {@link FaultInjector.clear}). */
  readonly count?: number;
}

/**
 * Wraps a backend for tests so that it fails on purpose: the Nth kernel call (primitive or fused), the Nth
 * allocation, or the Nth device→host download throws an {@link InjectedFaultError}, as a device error or an
 * out-of-memory would. Everything else is passed through to the wrapped backend unchanged.
 *
 * ```ts
 * const faults = new FaultInjector(new ReferenceBackend());
 * faults.failNext('kernel', { after: 40 });   // the 41st kernel call from now throws
 * await DeepseekModel.load(faults.backend, dir);
 * ```
 */
export class FaultInjector {
  /** The wrapped backend: hand it to the code under test. */
  readonly backend: Backend;
  /** Calls seen so far, per site. */
  readonly calls: Record<FaultSite, number> = { kernel: 0, allocation: 0, download: 0 };
  /** Faults raised so far, per site. */
  readonly raised: Record<FaultSite, number> = { kernel: 0, allocation: 0, download: 0 };
  readonly #plans = new Map<FaultSite, { from: number; to: number }>();

  constructor(inner: Backend) {
    const wrapTable = (table: object, prefix: string) =>
      new Proxy(table, {
        get: (target, property, receiver) => {
          const value = Reflect.get(target, property, receiver);
          if (typeof value !== 'function') return value;
          const name = `${prefix}${String(property)}`;
          return (...args: unknown[]) => {
            this.#enter('kernel', name);
            return value.apply(target, args);
          };
        },
      });
    const kernels = wrapTable(inner.kernels, '');
    const fused = wrapTable(inner.fused, 'fused.');
    this.backend = new Proxy(inner, {
      get: (target, property) => {
        if (property === 'kernels') return kernels;
        if (property === 'fused') return fused;
        const value = Reflect.get(target, property, target);
        if (property === 'allocate')
          return (...args: Parameters<Backend['allocate']>) => {
            this.#enter('allocation', 'allocate');
            return target.allocate(...args);
          };
        if (property === 'download')
          return (...args: Parameters<Backend['download']>) => {
            // A rejected promise, as a failed device→host copy reports itself.
            try {
              this.#enter('download', 'download');
            } catch (error) {
              return Promise.reject(error);
            }
            return target.download(...args);
          };
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
  }

  /** Arms `site`: after `plan.after` more successful calls, the next `plan.count` calls fail. */
  failNext(site: FaultSite, plan: FaultPlan): void {
    if (!(Number.isInteger(plan.after) && plan.after >= 0))
      throw new RangeError(`FaultPlan.after must be a non-negative integer, got ${plan.after}`);
    const count = plan.count ?? 1;
    if (!(count >= 1)) throw new RangeError(`FaultPlan.count must be at least 1, got ${count}`);
    const from = this.calls[site] + plan.after + 1;
    this.#plans.set(site, { from, to: from + count - 1 });
  }

  /** Disarms every site (or one). */
  clear(site?: FaultSite): void {
    if (site) this.#plans.delete(site);
    else this.#plans.clear();
  }

  #enter(site: FaultSite, operation: string): void {
    const call = ++this.calls[site];
    const plan = this.#plans.get(site);
    if (plan && call >= plan.from && call <= plan.to) {
      this.raised[site]++;
      if (call === plan.to) this.#plans.delete(site);
      throw new InjectedFaultError(site, operation, call);
    }
  }
}
