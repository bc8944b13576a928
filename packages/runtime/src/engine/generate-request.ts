/** Sampling settings of one request (see `SamplingRow` in @dsa/backend for their exact meaning). */
export interface SamplingParams {
  /** 0 = greedy (default). */
  readonly temperature?: number;
  readonly topK?: number;
  readonly topP?: number;
  readonly minP?: number;
  readonly repetitionPenalty?: number;
  readonly frequencyPenalty?: number;
  readonly presencePenalty?: number;
  /** token id → bias added to its logit. */
  readonly logitBias?: Readonly<Record<number, number>>;
  /** 32-bit seed; the same seed and prompt give the same output. Default: random per request. */
  readonly seed?: number;
}

/** One generation request to the {@link Engine}. */
export interface GenerateRequest {
  /** Prompt token ids. */
  readonly prompt: readonly number[];
  /** Tokens to generate at most. */
  readonly maxTokens: number;
  readonly sampling?: SamplingParams;
  /** Stop when one of these ids is generated (default: the model's EOS ids, unless `ignoreEos`). */
  readonly stopTokenIds?: readonly number[];
  /** Stop when the decoded text contains one of these (needs the engine's tokenizer); the text is cut before it. */
  readonly stopStrings?: readonly string[];
  /** Generate past EOS. */
  readonly ignoreEos?: boolean;
  /** Return the logprob of each token and of this many alternatives (0 = the chosen token only). */
  readonly logprobs?: number;
}

/** Why a request ended. */
export type FinishReason = 'stop' | 'length' | 'cancelled';

/** Token counts of a finished request. */
export interface Usage {
  readonly promptTokens: number;
  readonly completionTokens: number;
  /** Prompt tokens served from the prefix cache. */
  readonly cachedTokens: number;
}

/** What `Engine.generate` yields. */
export type GenerateEvent =
  | {
      readonly type: 'token';
      readonly id: number;
      readonly index: number;
      /** New text (when the engine has a tokenizer); may be empty while a character or stop string is incomplete. */
      readonly text?: string;
      readonly logprob?: number;
      readonly topLogprobs?: readonly { readonly id: number; readonly logprob: number }[];
    }
  | { readonly type: 'done'; readonly reason: FinishReason; readonly usage: Usage; readonly text?: string };
