import type { SamplingRow } from '@dsa/backend';
import type { DeepseekModel } from '../model/deepseek-model.js';
import type { CacheSequence } from '../model/kv-cache.js';
import type { ForwardEntry } from '../model/step-inputs.js';
import type { TokenHistory } from '../model/token-history.js';
import { StreamDecoder } from '../tokenizer/stream-decoder.js';
import type { Tokenizer } from '../tokenizer/tokenizer.js';
import { EngineBusyError, RequestRejectedError } from './engine-errors.js';
import { type EngineStats, StatsRecorder } from './engine-stats.js';
import { EventChannel } from './event-channel.js';
import type { FinishReason, GenerateEvent, GenerateRequest } from './generate-request.js';
import { StopStringMatcher } from './stop-strings.js';

/** Options of {@link Engine}. */
export interface EngineOptions {
  /**
   * Tokens per forward step: decode tokens first, then prefill chunks (default 256; fewer where the
   * model's `stepMemory` budget says so, see `DeepseekModel.stepRows`).
   */
  readonly maxBatchTokens?: number;
  /** Sequences decoding at once (default: min(64, maxBatchTokens)). */
  readonly maxRunning?: number;
  /** Requests waiting for room before `generate` answers busy (default 256). */
  readonly maxQueue?: number;
  /** Enables text output and stop strings. */
  readonly tokenizer?: Tokenizer;
}

interface Active {
  readonly id: number;
  readonly request: GenerateRequest;
  readonly channel: EventChannel<GenerateEvent>;
  sequence: CacheSequence;
  readonly seed: number;
  readonly blocksNeeded: number;
  /** Content hashes of the prompt's shareable blocks, computed once at submission. */
  readonly promptHashes: readonly string[];
  readonly stopIds: ReadonlySet<number>;
  readonly decoder: StreamDecoder | null;
  readonly stops: StopStringMatcher | null;
  /** Tokens to prefill: the prompt, or after a failed step the prompt and the tokens generated before it. */
  context: readonly number[];
  /** Tokens of `context` in the cache. */
  promptDone: number;
  /** Set when a step this request was in failed: it is retried in steps of its own; failing again fails it. */
  suspect: boolean;
  /** While a retried request rebuilds its cache: the token to decode next once `context` is in. */
  resumeToken: number | null;
  cachedTokens: number;
  generated: number[];
  pendingToken: number | null;
  cancelled: boolean;
  admitted: boolean;
  text: string;
  /** Device token history for the sampling penalties, when the request uses any. */
  history: TokenHistory | null;
  readonly enqueuedAt: number;
  lastTokenAt: number;
}

/**
 * Serves many generation requests on one model: continuous batching (requests join and leave between
 * steps), chunked prefill interleaved with decoding, prefix sharing through the paged cache, per-request
 * cancellation, and a bounded wait queue. Admission reserves each request's worst case
 * (prompt + max tokens), so running work never runs out of cache.
 */
export class Engine {
  private readonly waiting: Active[] = [];
  private readonly running: Active[] = [];
  private readonly maxBatchTokens: number;
  private readonly maxRunning: number;
  private readonly maxQueue: number;
  private readonly tokenizer: Tokenizer | null;
  private readonly recorder = new StatsRecorder();
  private nextId = 0;
  private loopPromise: Promise<void> | null = null;
  private closed = false;

  constructor(
    /** The model the engine schedules forward steps on. */
    readonly model: DeepseekModel,
    options: EngineOptions = {},
  ) {
    this.maxBatchTokens = options.maxBatchTokens ?? 256;
    this.maxRunning = options.maxRunning ?? Math.min(64, this.maxBatchTokens);
    this.maxQueue = options.maxQueue ?? 256;
    this.tokenizer = options.tokenizer ?? null;
    if (this.maxBatchTokens < this.maxRunning) {
      throw new RangeError(
        `maxBatchTokens (${this.maxBatchTokens}) must be at least maxRunning (${this.maxRunning})`,
      );
    }
  }

  /**
   * Queues a request and returns its event stream: `token` events, then one `done`. Throws
   * {@link RequestRejectedError} (invalid or larger than the cache or context) or {@link EngineBusyError}
   * (queue full) at once. Aborting `signal`, or leaving the `for await` loop early, cancels the request
   * and frees its cache blocks.
   */
  generate(request: GenerateRequest, options: { signal?: AbortSignal } = {}): AsyncIterable<GenerateEvent> {
    if (this.closed) throw new RequestRejectedError('engine', 'the engine is closed');
    this.validate(request);
    if (this.waiting.length >= this.maxQueue) throw new EngineBusyError(this.maxQueue);
    const config = this.model.config;
    const cache = this.model.cache;
    const stopIds = new Set(request.stopTokenIds ?? []);
    if (!request.ignoreEos) for (const id of config.eosTokenIds) stopIds.add(id);
    const active: Active = {
      id: this.nextId++,
      request,
      channel: new EventChannel<GenerateEvent>(),
      sequence: cache.createSequence(),
      seed: request.sampling?.seed ?? Math.floor(Math.random() * 2 ** 32),
      blocksNeeded: Math.ceil((request.prompt.length + request.maxTokens) / cache.blockSize),
      promptHashes: cache.prefixHashes(request.prompt),
      stopIds,
      decoder: this.tokenizer ? new StreamDecoder(this.tokenizer, { skipSpecialTokens: true }) : null,
      stops: request.stopStrings?.length ? new StopStringMatcher(request.stopStrings) : null,
      context: request.prompt,
      promptDone: 0,
      suspect: false,
      resumeToken: null,
      cachedTokens: 0,
      generated: [],
      pendingToken: null,
      cancelled: false,
      admitted: false,
      text: '',
      history: null,
      enqueuedAt: performance.now(),
      lastTokenAt: 0,
    };
    this.waiting.push(active);
    this.wake();
    const signal = options.signal;
    const cancel = () => this.cancel(active);
    if (signal?.aborted) cancel();
    else signal?.addEventListener('abort', cancel, { once: true });
    const channel = active.channel;
    return {
      [Symbol.asyncIterator]: () => {
        const iterator = channel[Symbol.asyncIterator]();
        return {
          next: () => iterator.next(),
          return: async (value?: unknown) => {
            cancel();
            signal?.removeEventListener('abort', cancel);
            return iterator.return(value as GenerateEvent);
          },
          throw: (error?: unknown) => iterator.throw(error),
          [Symbol.asyncIterator]() {
            return this;
          },
        } as AsyncGenerator<GenerateEvent>;
      },
    };
  }

  /** Queue, batch, cache and latency figures for monitoring. */
  stats(): EngineStats {
    const cache = this.model.cache;
    return this.recorder.snapshot({
      queueLength: this.waiting.length,
      running: this.running.length,
      cache,
      timings: this.model.timings,
    });
  }

  /** Cancels everything and waits for the step loop to stop. */
  async close(): Promise<void> {
    this.closed = true;
    for (const a of [...this.waiting, ...this.running]) this.cancel(a);
    await this.loopPromise;
  }

  private validate(request: GenerateRequest): void {
    const config = this.model.config;
    const cache = this.model.cache;
    if (!Array.isArray(request.prompt) || request.prompt.length === 0)
      throw new RequestRejectedError('prompt', 'the prompt is empty');
    const bad = request.prompt.find((id) => !Number.isInteger(id) || id < 0 || id >= config.vocabSize);
    if (bad !== undefined)
      throw new RequestRejectedError(
        'prompt',
        `token id ${bad} is outside the vocabulary of ${config.vocabSize}`,
      );
    if (!Number.isInteger(request.maxTokens) || request.maxTokens < 1) {
      throw new RequestRejectedError(
        'max_tokens',
        `max tokens must be a positive integer, got ${request.maxTokens}`,
      );
    }
    const total = request.prompt.length + request.maxTokens;
    if (total > config.maxPositionEmbeddings) {
      throw new RequestRejectedError(
        'max_tokens',
        `prompt (${request.prompt.length} tokens) + max tokens (${request.maxTokens}) = ${total} exceeds the model's context of ${config.maxPositionEmbeddings} tokens`,
      );
    }
    if (total > cache.capacityTokens) {
      throw new RequestRejectedError(
        'max_tokens',
        `prompt (${request.prompt.length} tokens) + max tokens (${request.maxTokens}) = ${total} exceeds the KV cache of ${cache.capacityTokens} tokens`,
      );
    }
    if (request.stopStrings?.length && !this.tokenizer) {
      throw new RequestRejectedError('stop', 'stop strings need a tokenizer; this engine has none');
    }
    const s = request.sampling ?? {};
    const check = (
      field: string,
      value: number | undefined,
      ok: (v: number) => boolean,
      expected: string,
    ) => {
      if (value !== undefined && (!Number.isFinite(value) || !ok(value))) {
        throw new RequestRejectedError(field, `${field} must be ${expected}, got ${value}`);
      }
    };
    check('temperature', s.temperature, (v) => v >= 0, '>= 0');
    check('top_k', s.topK, (v) => Number.isInteger(v) && v >= 0, 'a non-negative integer');
    check('top_p', s.topP, (v) => v > 0 && v <= 1, 'in (0, 1]');
    check('min_p', s.minP, (v) => v >= 0 && v <= 1, 'in [0, 1]');
    check('repetition_penalty', s.repetitionPenalty, (v) => v > 0, '> 0');
    check('frequency_penalty', s.frequencyPenalty, (v) => v >= -2 && v <= 2, 'in [-2, 2]');
    check('presence_penalty', s.presencePenalty, (v) => v >= -2 && v <= 2, 'in [-2, 2]');
    check('seed', s.seed, (v) => Number.isInteger(v) && v >= 0 && v < 2 ** 32, 'a 32-bit unsigned integer');
    check(
      'logprobs',
      request.logprobs,
      (v) => Number.isInteger(v) && v >= 0 && v <= 20,
      'an integer in [0, 20]',
    );
    for (const id of Object.keys(s.logitBias ?? {})) {
      if (!(Number(id) >= 0 && Number(id) < config.vocabSize))
        throw new RequestRejectedError('logit_bias', `token id ${id} is outside the vocabulary`);
    }
  }

  private cancel(active: Active): void {
    if (active.cancelled) return;
    active.cancelled = true;
    const index = this.waiting.indexOf(active);
    if (index >= 0) {
      this.waiting.splice(index, 1);
      this.finish(active, 'cancelled');
    }
    // A running request is finished between steps (see reap), freeing its blocks right after the step in flight.
    if (!this.loopPromise && this.running.includes(active)) this.reap();
  }

  private wake(): void {
    if (this.loopPromise) return;
    this.loopPromise = this.loop().finally(() => {
      this.loopPromise = null;
      if (this.waiting.length > 0 && this.canAdmitAny()) this.wake();
    });
  }

  private async loop(): Promise<void> {
    while (true) {
      this.reap();
      this.admit();
      if (this.running.length === 0) return;
      const batch: Active[] = [];
      try {
        await this.step(batch);
      } catch (error) {
        this.recover(batch, error);
      }
      // Let timers, I/O and new requests in between steps, even when the backend computes on this thread.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  /**
   * A failed step fails no request outright and never the engine: each request in it gives back its cache
   * blocks and is retried alone, rebuilding its cache from its prompt and the tokens it had generated (so
   * its output is unchanged). A request whose own step fails ends with the error.
   */
  private recover(batch: readonly Active[], error: unknown): void {
    this.recorder.stepFailed();
    const retried: Active[] = [];
    for (const a of batch) {
      this.release(a);
      if (a.suspect || a.cancelled) {
        if (a.cancelled) this.finish(a, 'cancelled');
        else {
          a.channel.close(error);
          this.recorder.requestFailed();
        }
        continue;
      }
      a.sequence = this.model.cache.createSequence();
      a.suspect = true;
      if (a.pendingToken !== null) {
        a.resumeToken = a.pendingToken;
        a.pendingToken = null;
      }
      // `generated` ends with the token about to be decoded (resumeToken), which is not in the cache yet.
      const kept = a.resumeToken === null ? a.generated.length : a.generated.length - 1;
      a.context = a.request.prompt.concat(a.generated.slice(0, kept));
      a.promptDone = 0;
      retried.push(a);
    }
    this.waiting.unshift(...retried);
  }

  private reap(): void {
    for (const a of [...this.running]) if (a.cancelled) this.finish(a, 'cancelled');
  }

  private available(): number {
    const cache = this.model.cache;
    const reserved = this.running.reduce(
      (n, a) => n + Math.max(0, a.blocksNeeded - a.sequence.blocks.length),
      0,
    );
    return cache.freeBlocks - reserved;
  }

  private canAdmitAny(): boolean {
    const first = this.waiting[0];
    if (!first || this.running.length >= this.maxRunning) return false;
    const match = this.model.cache.matchPrefix(first.promptHashes);
    return first.blocksNeeded - match.blocks.length + match.evictable <= this.available();
  }

  private admit(): void {
    while (this.waiting.length > 0 && this.canAdmitAny()) {
      const a = this.waiting.shift()!;
      const cached = this.model.cache.attachPrefix(a.sequence, a.request.prompt, a.promptHashes);
      a.promptDone = cached;
      if (!a.suspect) a.cachedTokens = cached;
      a.admitted = true;
      const s = a.request.sampling;
      if (s && ((s.repetitionPenalty ?? 1) !== 1 || s.frequencyPenalty || s.presencePenalty)) {
        // The prompt and what was generated before a retry; the rest is appended as tokens come.
        const tokens = a.request.prompt.concat(a.generated);
        const capacity = a.request.prompt.length + a.request.maxTokens;
        try {
          a.history = this.model.sampler.createHistory(tokens, a.request.prompt.length, capacity);
        } catch (error) {
          // Out of device memory (or a device error) ends this request, not the engine.
          this.release(a);
          a.channel.close(error);
          this.recorder.requestFailed();
          continue;
        }
      }
      this.running.push(a);
    }
  }

  /** One forward step; `batch` receives the requests in it (so a failure can be traced back to them). */
  private async step(batch: Active[]): Promise<void> {
    const model = this.model;
    // Tokens this step: maxBatchTokens, or fewer where the model's step memory budget says so.
    let budget = model.stepRows(this.maxBatchTokens);
    const entries: ForwardEntry[] = [];
    const plan: { active: Active; prefill: number; sample: boolean }[] = [];
    // A request retried after a failed step runs alone until one of its steps succeeds.
    const suspect = this.running.find((a) => a.suspect);
    const candidates = suspect ? [suspect] : this.running;
    for (const a of candidates) {
      if (a.pendingToken === null) continue;
      entries.push({ sequence: a.sequence, tokens: [a.pendingToken] });
      plan.push({ active: a, prefill: 0, sample: true });
      budget--;
    }
    for (const a of candidates) {
      const remaining = a.context.length - a.promptDone;
      if (remaining === 0 || a.pendingToken !== null || budget <= 0) continue;
      const n = Math.min(remaining, budget);
      entries.push({ sequence: a.sequence, tokens: a.context.slice(a.promptDone, a.promptDone + n) });
      // A retried request whose context is back in the cache resumes with its held token, sampling nothing.
      plan.push({
        active: a,
        prefill: n,
        sample: a.promptDone + n === a.context.length && a.resumeToken === null,
      });
      budget -= n;
    }
    if (entries.length === 0) return;
    for (const p of plan) batch.push(p.active);
    const result = await model.forward(entries);
    const rows: SamplingRow[] = plan.map(({ active: a, sample }) =>
      sample ? this.samplingRow(a) : { temperature: 0 },
    );
    const wantLogprobs = plan.some((p) => p.sample && p.active.request.logprobs !== undefined);
    const top = Math.max(0, ...plan.map((p) => (p.sample ? (p.active.request.logprobs ?? -1) : -1)));
    const sampled = await model.sampler.sample(result.logits, rows, wantLogprobs ? top : null);
    const now = performance.now();
    plan.forEach(({ active: a, prefill, sample }, row) => {
      a.promptDone += prefill;
      a.suspect = false;
      if (a.resumeToken !== null && a.promptDone === a.context.length) {
        a.pendingToken = a.resumeToken;
        a.resumeToken = null;
      }
      if (!sample || a.cancelled) return;
      const token = sampled.ids[row]!;
      const index = a.generated.length;
      a.generated.push(token);
      if (index === 0) this.recorder.firstToken(now - a.enqueuedAt);
      else this.recorder.interToken(now - a.lastTokenAt);
      a.lastTokenAt = now;
      a.history?.append(token);
      let text: string | undefined;
      if (a.decoder) {
        const piece = a.decoder.push(token);
        text = a.stops ? a.stops.push(piece) : piece;
        a.text += text;
      }
      const n = a.request.logprobs;
      a.channel.push({
        type: 'token',
        id: token,
        index,
        ...(text !== undefined ? { text } : {}),
        ...(sampled.logprobs && n !== undefined ? { logprob: sampled.logprobs[row]! } : {}),
        ...(sampled.topIds && n
          ? {
              topLogprobs: Array.from({ length: n }, (_, j) => ({
                id: sampled.topIds![row * sampled.top + j]!,
                logprob: sampled.topLogprobs![row * sampled.top + j]!,
              })),
            }
          : {}),
      });
      if (a.stopIds.has(token) || a.stops?.stopped) this.finish(a, 'stop');
      else if (a.generated.length >= a.request.maxTokens) this.finish(a, 'length');
      else a.pendingToken = token;
    });
    this.recorder.tokens(plan.filter((p) => p.sample).length);
  }

  private samplingRow(a: Active): SamplingRow {
    const s = a.request.sampling ?? {};
    const bias = Object.entries(s.logitBias ?? {}).map(([id, value]) => [Number(id), value] as const);
    return {
      temperature: s.temperature ?? 0,
      ...(s.topK !== undefined ? { topK: s.topK } : {}),
      ...(s.topP !== undefined ? { topP: s.topP } : {}),
      ...(s.minP !== undefined ? { minP: s.minP } : {}),
      ...(s.repetitionPenalty !== undefined ? { repetitionPenalty: s.repetitionPenalty } : {}),
      ...(s.frequencyPenalty !== undefined ? { frequencyPenalty: s.frequencyPenalty } : {}),
      ...(s.presencePenalty !== undefined ? { presencePenalty: s.presencePenalty } : {}),
      ...(bias.length ? { logitBias: bias } : {}),
      ...(a.history ? { history: a.history.row } : {}),
      seed: a.seed,
      step: a.generated.length,
    };
  }

  private release(a: Active): void {
    const index = this.running.indexOf(a);
    if (index >= 0) this.running.splice(index, 1);
    if (a.admitted) this.model.cache.release(a.sequence);
    a.admitted = false;
    a.history?.dispose();
    a.history = null;
  }

  private finish(a: Active, reason: FinishReason): void {
    this.release(a);
    let tail = '';
    if (a.decoder && reason !== 'cancelled') {
      const rest = a.decoder.flush();
      tail = a.stops ? a.stops.push(rest) + a.stops.flush() : rest;
      a.text += tail;
    }
    a.channel.push({
      type: 'done',
      reason,
      usage: {
        promptTokens: a.request.prompt.length,
        completionTokens: a.generated.length,
        cachedTokens: a.cachedTokens,
      },
      ...(a.decoder ? { text: tail } : {}),
    });
    a.channel.close();
    this.recorder.finished(reason);
  }
}
