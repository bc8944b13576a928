import type { Backend, DeviceBuffer, SamplingRow } from '@dsa/backend';
import { type TensorView, tensorView } from '@dsa/tensor';

/**
 * A sequence's tokens on the device, for the sampler's repetition, frequency and presence penalties:
 * the prompt, then each generated token as it comes. Created by {@link Sampler.createHistory}.
 */
export class TokenHistory implements Disposable {
  /** i32 [capacity]: prompt tokens, then generated tokens; the rest is zero. */
  readonly tokens: TensorView;
  private readonly buffer: DeviceBuffer;
  private valid: number;

  /**
   * Allocates room for `capacity` tokens and uploads `tokens` (the prompt's `promptLength` ids, then
   * any generated before, e.g. when a request is retried).
   */
  constructor(
    private readonly backend: Backend,
    tokens: readonly number[],
    /** How many of the first tokens are the prompt. */
    readonly promptLength: number,
    capacity: number,
  ) {
    this.buffer = backend.allocate(capacity * 4, 'activations');
    this.tokens = tensorView(this.buffer, 'i32', [capacity]);
    backend.upload(
      this.tokens,
      Int32Array.from({ length: capacity }, (_, i) => tokens[i] ?? 0),
    );
    this.valid = tokens.length;
  }

  /** Tokens held (prompt and generated). */
  get length(): number {
    return this.valid;
  }

  /** Appends one generated token (an upload of 4 bytes). */
  append(token: number): void {
    this.backend.upload(tensorView(this.buffer, 'i32', [1], this.valid * 4), Int32Array.of(token));
    this.valid++;
  }

  /** The `history` field of a {@link SamplingRow} over the tokens held now. */
  get row(): NonNullable<SamplingRow['history']> {
    return { tokens: this.tokens, length: this.valid, promptLength: this.promptLength };
  }

  /** Frees the device buffer. */
  dispose(): void {
    this.buffer.dispose();
  }

  /** Frees the device buffer (`using`). */
  [Symbol.dispose](): void {
    this.dispose();
  }
}
