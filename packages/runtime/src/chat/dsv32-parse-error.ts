import { DsaError } from '@dsa/backend';

/**
 * A completion that does not follow the DeepSeek-V3.2 output format. The messages are the reference
 * parser's assertion messages (`Invalid thinking format`, `Tool call format error`, ...).
 */
export class Dsv32ParseError extends DsaError {
  /** @param message The reference parser's assertion message. */
  constructor(message: string) {
    super('completion_invalid', message);
    this.name = 'Dsv32ParseError';
  }
}
