// The checks every loopback load run of the server must pass (tests/server-load.test.ts, tests/soak.test.ts).
import { expect } from 'vitest';

/** The counters of a load run's JSON summary that {@link expectCleanRun} reads. */
export interface LoadCounters {
  readonly completed: number;
  readonly disconnected: number;
  readonly status_5xx: number;
  readonly running_after: number;
  readonly cache_blocks_used_after: number;
}

/**
 * More than `minCompleted` requests completed and some clients disconnected, no 5xx, and once the
 * clients stopped no request still running and no cache block still held.
 */
export function expectCleanRun(summary: LoadCounters, minCompleted: number): void {
  expect(summary.completed).toBeGreaterThan(minCompleted);
  expect(summary.disconnected).toBeGreaterThan(0);
  expect(summary.status_5xx).toBe(0);
  expect(summary.running_after).toBe(0);
  expect(summary.cache_blocks_used_after).toBe(0);
}
