/** Sampling settings of one request (see `SamplingRow` in @dsa/backend for their exact meaning). */
export interface SamplingParams {
  /** 0 = greedy (default). */
  readonly temperature?: number;
  /** Keep the k most likely tokens; 0 disables. */
  readonly topK?: number;
  /** Nucleus sampling: keep the smallest set reaching probability p; 1 disables. */
  readonly topP?: number;
  /** Drop tokens below minP × the top probability; 0 disables. */
  readonly minP?: number;
  /** > 1 discourages tokens already in the prompt or output; 1 disables. */
  readonly repetitionPenalty?: number;
  /** Subtracted from a logit once per earlier occurrence in the output; 0 disables. */
  readonly frequencyPenalty?: number;
  /** Subtracted from a logit once if the token occurred in the output; 0 disables. */
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
  /** How to pick each token (default: greedy). */
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
  /** Tokens in the prompt. */
  readonly promptTokens: number;
  /** Tokens generated. */
  readonly completionTokens: number;
  /** Prompt tokens served from the prefix cache. */
  readonly cachedTokens: number;
}

/** What `Engine.generate` yields. */
export type GenerateEvent =
  | {
      /** A generated token. */
      readonly type: 'token';
      /** Its token id. */
      readonly id: number;
      /** Its position in the output, from 0. */
      readonly index: number;
      /** New text (when the engine has a tokenizer); may be empty while a character or stop string is incomplete. */
      readonly text?: string;
      /** Its log-probability (when the request asked for logprobs). */
      readonly logprob?: number;
      /** The most likely alternatives, most likely first (when the request asked for them). */
      readonly topLogprobs?: readonly {
        /** Token id of the alternative. */
        readonly id: number;
        /** Its log-probability. */
        readonly logprob: number;
      }[];
    }
  | {
      /** The request ended; always the last event. */
      readonly type: 'done';
      /** Why it ended. */
      readonly reason: FinishReason;
      /** Token counts. */
      readonly usage: Usage;
      /** Text held back until the end (when the engine has a tokenizer). */
      readonly text?: string;
    };
