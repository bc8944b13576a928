import {
  type Engine,
  EngineBusyError,
  type GenerateEvent,
  type GenerateRequest,
  RequestRejectedError,
  type Tokenizer,
} from '@dsa/runtime';
import { OpenAIError } from './openai-error.js';

/** Request fields shared by chat and text completions. */
export interface SamplingFields {
  model?: string;
  max_tokens?: number | null;
  max_completion_tokens?: number | null;
  temperature?: number | null;
  top_p?: number | null;
  top_k?: number | null;
  min_p?: number | null;
  frequency_penalty?: number | null;
  presence_penalty?: number | null;
  repetition_penalty?: number | null;
  seed?: number | null;
  stop?: string | string[] | null;
  stop_token_ids?: number[] | null;
  n?: number | null;
  stream?: boolean | null;
  stream_options?: { include_usage?: boolean } | null;
  logit_bias?: Record<string, number> | null;
  ignore_eos?: boolean;
}

/** Defaults of the server. */
export interface GenerationDefaults {
  readonly maxTokens: number;
  readonly contextLength: number;
}

/** Maps OpenAI request fields onto an engine request for `prompt`. */
export function toGenerateRequest(
  body: SamplingFields,
  prompt: number[],
  defaults: GenerationDefaults,
  logprobs?: number,
): GenerateRequest {
  if (body.n !== undefined && body.n !== null && body.n !== 1) {
    throw new OpenAIError(
      400,
      `n = ${body.n} is not supported: this server returns one choice per request`,
      'invalid_request_error',
      'n',
    );
  }
  const room = defaults.contextLength - prompt.length;
  if (room < 1) {
    throw new OpenAIError(
      400,
      `This model's maximum context length is ${defaults.contextLength} tokens, but the prompt has ${prompt.length} tokens.`,
      'invalid_request_error',
      'messages',
      'context_length_exceeded',
    );
  }
  const maxTokens = body.max_completion_tokens ?? body.max_tokens ?? Math.min(defaults.maxTokens, room);
  const stop =
    body.stop === null || body.stop === undefined ? [] : Array.isArray(body.stop) ? body.stop : [body.stop];
  const bias: Record<number, number> = {};
  for (const [id, value] of Object.entries(body.logit_bias ?? {})) {
    if (!/^\d+$/.test(id))
      throw new OpenAIError(
        400,
        `logit_bias key "${id}" is not a token id`,
        'invalid_request_error',
        'logit_bias',
      );
    bias[Number(id)] = value;
  }
  return {
    prompt,
    maxTokens,
    sampling: {
      temperature: body.temperature ?? 1,
      ...(body.top_p !== undefined && body.top_p !== null ? { topP: body.top_p } : {}),
      ...(body.top_k !== undefined && body.top_k !== null && body.top_k > 0 ? { topK: body.top_k } : {}),
      ...(body.min_p !== undefined && body.min_p !== null ? { minP: body.min_p } : {}),
      ...(body.frequency_penalty ? { frequencyPenalty: body.frequency_penalty } : {}),
      ...(body.presence_penalty ? { presencePenalty: body.presence_penalty } : {}),
      ...(body.repetition_penalty ? { repetitionPenalty: body.repetition_penalty } : {}),
      ...(Object.keys(bias).length ? { logitBias: bias } : {}),
      ...(body.seed !== undefined && body.seed !== null ? { seed: body.seed } : {}),
    },
    ...(stop.length ? { stopStrings: stop } : {}),
    ...(body.stop_token_ids?.length ? { stopTokenIds: body.stop_token_ids } : {}),
    ...(body.ignore_eos ? { ignoreEos: true } : {}),
    ...(logprobs !== undefined ? { logprobs } : {}),
  };
}

/** Starts generation, turning engine refusals into OpenAI errors (400, 429). */
export function startGeneration(
  engine: Engine,
  request: GenerateRequest,
  signal: AbortSignal,
): AsyncIterable<GenerateEvent> {
  try {
    return engine.generate(request, { signal });
  } catch (error) {
    if (error instanceof EngineBusyError) {
      throw new OpenAIError(429, error.message, 'rate_limit_error', null, 'server_busy');
    }
    if (error instanceof RequestRejectedError) {
      const field = error.field === 'max_tokens' ? 'max_tokens' : error.field;
      const code = /context|KV cache/.test(error.message) ? 'context_length_exceeded' : null;
      throw new OpenAIError(400, error.message, 'invalid_request_error', field, code);
    }
    throw error;
  }
}

/** OpenAI-style logprob entry of one token. */
export function tokenLogprob(tokenizer: Tokenizer, id: number, logprob: number) {
  const token = tokenizer.decode([id]);
  return { token, logprob, bytes: Array.from(Buffer.from(token, 'utf8')) };
}
