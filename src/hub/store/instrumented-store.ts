/**
 * A HubStore that times every call of the store ports (for /metrics) and otherwise passes it
 * through unchanged. Wrapping at the port keeps the domain and each adapter free of metrics
 * code, and holds for every adapter alike (a call that returns a promise is timed to its end).
 */
import type { HubStore } from '../domain/ports.js';

export type StoreObserver = (operation: string, outcome: 'ok' | 'error', seconds: number) => void;

export function instrumentStore(store: HubStore, observe: StoreObserver): HubStore {
  const wrapped = new Map<PropertyKey, unknown>();
  return new Proxy(store, {
    get(target, key, receiver) {
      const value = Reflect.get(target, key, receiver) as unknown;
      if (typeof value !== 'function' || key === 'close' || typeof key !== 'string') return value;
      let fn = wrapped.get(key);
      if (!fn) {
        const method = value as (...args: unknown[]) => unknown;
        fn = (...args: unknown[]) => {
          const start = process.hrtime.bigint();
          const done = (outcome: 'ok' | 'error') => observe(key, outcome, Number(process.hrtime.bigint() - start) / 1e9);
          let result: unknown;
          try {
            result = method.apply(target, args);
          } catch (err) {
            done('error');
            throw err;
          }
          if (result instanceof Promise) {
            return result.then(
              (v: unknown) => (done('ok'), v),
              (err: unknown) => {
                done('error');
                throw err;
              },
            );
          }
          done('ok');
          return result;
        };
        wrapped.set(key, fn);
      }
      return fn;
    },
  });
}
