// What a test loads and must free: backends and the models on them, disposed after each test. Shared by the
// runtime's graph tests (reference backend), the cpu backend's replay tests and the fp8 latent-cache tests.
import { afterEach } from 'vitest';

/** Anything with a synchronous `dispose()`: a backend, a model. */
export interface Disposable {
  dispose(): void;
}

/**
 * Registers an `afterEach` (in the `describe` it is called in, or for the whole file at its top level) that
 * disposes everything kept during the test, last kept first: a model before the backend it was loaded on.
 * Returns `keep`, which keeps and returns its argument.
 */
export function disposeAfterEach(): <T extends Disposable>(item: T) => T {
  const kept: Disposable[] = [];
  afterEach(() => {
    for (const item of kept.splice(0).reverse()) item.dispose();
  });
  return (item) => {
    kept.push(item);
    return item;
  };
}
