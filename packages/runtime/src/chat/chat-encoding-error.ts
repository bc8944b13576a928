import { DsaError } from '@dsa/backend';

/** A conversation the DeepSeek-V3.2 encoder cannot render (the cases where the reference encoder asserts). */
export class ChatEncodingError extends DsaError {
  /** @param message What is wrong with the conversation. */
  constructor(message: string) {
    super('chat_invalid', message);
    this.name = 'ChatEncodingError';
  }
}
