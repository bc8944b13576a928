import { DsaError } from '@dsa/backend';

/**
 * A tokenizer could not be loaded or used: a file is missing or is not valid JSON, the JSON does not describe
 * a tokenizer, or an id is outside the vocabulary. `file` names the offending file when there is one.
 */
export class TokenizerError extends DsaError {
  /** The file the error is about (absolute or as given), or undefined when it is not about a file. */
  readonly file: string | undefined;
  /**
   * @param message What went wrong (names the file when there is one).
   * @param options `file`: the file concerned; `cause`: the underlying error.
   */
  constructor(message: string, options?: { file?: string; cause?: unknown }) {
    super('tokenizer_invalid', message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'TokenizerError';
    this.file = options?.file;
  }
}
