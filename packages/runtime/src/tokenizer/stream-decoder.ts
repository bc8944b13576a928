import type { Tokenizer } from './tokenizer.js';

/** Options of {@link StreamDecoder}. */
export interface StreamDecoderOptions {
  /** Leave out tokens marked `special` (BOS, EOS, pad). Default false, as for {@link Tokenizer.decode}. */
  readonly skipSpecialTokens?: boolean;
}

/**
 * Incremental detokenization for streaming generation. A byte-level BPE token can end in the middle of a
 * multi-byte UTF-8 character (an emoji or CJK character is often split over two or three tokens);
 * {@link push} returns only the text that is complete so far and keeps the unfinished bytes until the tokens
 * that finish the character arrive. The concatenation of everything returned by `push` and {@link flush} is
 * exactly `tokenizer.decode(allIds)`.
 *
 * Needs a byte-level tokenizer ({@link Tokenizer.isByteLevel}), as DeepSeek's is.
 */
export class StreamDecoder {
  readonly #tokenizer: Tokenizer;
  readonly #skipSpecial: boolean;
  #utf8 = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });

  /** @param tokenizer A byte-level tokenizer (throws TypeError otherwise). */
  constructor(tokenizer: Tokenizer, options: StreamDecoderOptions = {}) {
    if (!tokenizer.isByteLevel) throw new TypeError('StreamDecoder needs a byte-level tokenizer');
    this.#tokenizer = tokenizer;
    this.#skipSpecial = options.skipSpecialTokens === true;
  }

  /** Add one generated token; returns the newly completed text (possibly empty). */
  push(id: number): string {
    if (this.#skipSpecial && this.#tokenizer.isSpecialId(id)) return '';
    const bytes = this.#tokenizer.tokenBytes(id);
    if (bytes.length === 0) return '';
    return this.#utf8.decode(bytes, { stream: true });
  }

  /** Add several tokens; returns the newly completed text. */
  pushMany(ids: Iterable<number>): string {
    let text = '';
    for (const id of ids) text += this.push(id);
    return text;
  }

  /**
   * End of the stream: returns what is left, with an unfinished character turned into U+FFFD (as
   * {@link Tokenizer.decode} does), and resets the decoder for a new stream.
   */
  flush(): string {
    return this.#utf8.decode();
  }

  /** Drop any pending bytes and start a new stream. */
  reset(): void {
    this.#utf8 = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });
  }
}
