import { DsaError } from '@dsa/backend';

/** The engine's wait queue is full; retry later (servers answer 429/503 with Retry-After). */
export class EngineBusyError extends DsaError {
  constructor(
    /** The most requests allowed to wait. */
    readonly queueLimit: number,
  ) {
    super('engine_busy', `the engine is busy: ${queueLimit} requests are already waiting; retry later`);
    this.name = 'EngineBusyError';
  }
}

/** A request can never run: it is larger than the whole cache or the model's context, or its settings are invalid. */
export class RequestRejectedError extends DsaError {
  constructor(
    /** The request field that made it impossible, e.g. `max_tokens`. */
    readonly field: string,
    message: string,
  ) {
    super('request_rejected', message);
    this.name = 'RequestRejectedError';
  }
}
