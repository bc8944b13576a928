/** A single-consumer async queue: the engine pushes, `generate()` iterates. */
export class EventChannel<T> {
  private readonly items: T[] = [];
  private waiting: ((value: void) => void) | null = null;
  private closed = false;
  private failure: unknown = null;

  push(item: T): void {
    this.items.push(item);
    this.wake();
  }

  close(error?: unknown): void {
    this.closed = true;
    if (error !== undefined) this.failure = error;
    this.wake();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<T> {
    while (true) {
      while (this.items.length > 0) yield this.items.shift()!;
      if (this.failure !== null) throw this.failure;
      if (this.closed) return;
      await new Promise<void>((resolve) => {
        this.waiting = resolve;
      });
    }
  }

  private wake(): void {
    const w = this.waiting;
    this.waiting = null;
    w?.();
  }
}
