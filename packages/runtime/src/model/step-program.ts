/**
 * A forward step written once as a generator that enqueues kernels and yields each piece of host work
 * it must wait for (a routing download, a probe, an adaptive selection). Run eagerly, the host work is
 * awaited; recorded into a graph, there must be none. `T` is what the step returns.
 */
export type StepProgram<T> = Generator<Promise<unknown>, T, unknown>;

/** Runs a step program eagerly: awaits every piece of host work it yields and hands back its result. */
export async function runEagerly<T>(program: StepProgram<T>): Promise<T> {
  let next = program.next();
  while (!next.done) next = program.next(await next.value);
  return next.value;
}

/**
 * Runs a step program synchronously, as a graph capture records it: it must only enqueue kernels.
 * Throws when the program yields host work.
 */
export function runRecorded<T>(program: StepProgram<T>): T {
  const next = program.next();
  if (!next.done) {
    program.return(undefined as T);
    throw new Error('a recorded step must not wait on the host (it yielded host work)');
  }
  return next.value;
}

/** Inside a step program: waits for `promise` (eager runs only) and evaluates to its value. */
export function* awaited<T>(promise: Promise<T>): StepProgram<T> {
  return (yield promise) as T;
}
