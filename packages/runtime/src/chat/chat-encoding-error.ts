import { DsaError } from '@dsa/backend';

/** A conversation the DeepSeek-V3.2 encoder cannot render (the cases where the reference encoder asserts). */
export class ChatEncodingError extends DsaError {
  /**
   * @param message What is wrong with the conversation.
   * @param options `cause`: the underlying error (such as the template engine's).
   */
  constructor(message: string, options?: { cause?: unknown }) {
    super('chat_invalid', message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ChatEncodingError';
  }
}
