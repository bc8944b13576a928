import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Tokenizer as HfTokenizer } from '@huggingface/tokenizers';
import { ChatTemplate } from '../chat/jinja-template.js';
import { GgufFile } from '../gguf/gguf-file.js';
import { isGgufPath } from '../gguf/gguf-path.js';
import { tokenizerFromGguf } from '../gguf/gguf-tokenizer.js';
import { byteLevelTokenBytes } from './byte-level.js';
import { TokenizerError } from './tokenizer-error.js';

/** Options of {@link Tokenizer.encode}. */
export interface TokenizerEncodeOptions {
  /**
   * Add BOS (and EOS) as `tokenizer_config.json` asks (`add_bos_token`, `add_eos_token`). Default false:
   * prompts built by a chat encoder or template already start with the BOS text, and adding it again would
   * give two BOS tokens.
   */
  readonly addSpecialTokens?: boolean;
}

/** Options of {@link Tokenizer.decode}. */
export interface TokenizerDecodeOptions {
  /** Leave out tokens marked `special` in `tokenizer.json` (BOS, EOS, pad, placeholders). Default false. */
  readonly skipSpecialTokens?: boolean;
}

interface AddedTokenJson {
  readonly id: number;
  readonly content: string;
  readonly special?: boolean;
}

const TEXT_DECODER_OPTIONS = { fatal: false, ignoreBOM: true } as const;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A special token in tokenizer_config.json: a plain string or an `AddedToken` object with `content`. */
function tokenContent(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (isRecord(value) && typeof value.content === 'string') return value.content;
  return undefined;
}

/** `chat_template` is a string, or a list of `{ name, template }` of which `default` is the chat one. */
function chatTemplateOf(config: Record<string, unknown>): string | undefined {
  const t = config.chat_template;
  if (typeof t === 'string') return t;
  if (Array.isArray(t)) {
    const named = t.filter(isRecord);
    const chosen = named.find((x) => x.name === 'default') ?? named[0];
    if (chosen !== undefined && typeof chosen.template === 'string') return chosen.template;
  }
  return undefined;
}

async function readJsonFile(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    throw new TokenizerError(`cannot read ${path}: ${(cause as Error).message}`, { file: path, cause });
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (cause) {
    throw new TokenizerError(`${path} is not valid JSON: ${(cause as Error).message}`, { file: path, cause });
  }
}

/**
 * A Hugging Face fast tokenizer (`tokenizer.json` + `tokenizer_config.json`), as used by DeepSeek-V3 / V3.2:
 * byte-level BPE with added tokens. Encoding is done by `@huggingface/tokenizers`, which applies
 * `tokenizer.json` as the Python `tokenizers` library does; added tokens written literally in the text (such
 * as `<｜User｜>` or `<｜begin▁of▁sentence｜>`) always become their single id, so a rendered chat prompt
 * tokenizes correctly. Decoding follows the Rust `ByteLevel` decoder: the tokens' bytes are joined and read as
 * UTF-8, invalid sequences becoming U+FFFD.
 */
export class Tokenizer {
  /** Id of the BOS token named in tokenizer_config.json, or undefined when there is none. */
  readonly bosTokenId: number | undefined;
  /** Id of the EOS token named in tokenizer_config.json, or undefined when there is none. */
  readonly eosTokenId: number | undefined;
  /** Text of the BOS token (`<｜begin▁of▁sentence｜>` for DeepSeek), or undefined. */
  readonly bosToken: string | undefined;
  /** Text of the EOS token (`<｜end▁of▁sentence｜>` for DeepSeek), or undefined. */
  readonly eosToken: string | undefined;
  /** `add_bos_token` from tokenizer_config.json (false when absent). */
  readonly addBosToken: boolean;
  /** `add_eos_token` from tokenizer_config.json (false when absent). */
  readonly addEosToken: boolean;
  /**
   * Number of token ids the tokenizer knows: the largest id (base vocabulary or added token) plus one;
   * 128,815 for DeepSeek-V3. The model's embedding table may be larger (129,280), its extra rows unused.
   */
  readonly vocabSize: number;
  /** The Jinja `chat_template` from tokenizer_config.json, or undefined when it has none. */
  readonly chatTemplate: string | undefined;

  readonly #hf: HfTokenizer;
  readonly #byteLevel: boolean;
  readonly #specialIds: ReadonlySet<number>;
  readonly #idToToken: readonly (string | undefined)[];
  readonly #bytesCache = new Map<number, Uint8Array>();

  private constructor(tokenizerJson: Record<string, unknown>, config: Record<string, unknown>) {
    this.#hf = new HfTokenizer(tokenizerJson, config);
    const decoder = tokenizerJson.decoder;
    this.#byteLevel = isRecord(decoder) && decoder.type === 'ByteLevel';
    const added = (
      Array.isArray(tokenizerJson.added_tokens) ? tokenizerJson.added_tokens : []
    ) as AddedTokenJson[];
    this.#specialIds = new Set(added.filter((t) => t.special === true).map((t) => t.id));
    const idToToken: (string | undefined)[] = [];
    for (const [token, id] of this.#hf.get_vocab(true)) idToToken[id] = token;
    for (const t of added) idToToken[t.id] = t.content;
    this.#idToToken = idToToken;
    this.vocabSize = idToToken.length;
    this.bosToken = tokenContent(config.bos_token);
    this.eosToken = tokenContent(config.eos_token);
    this.bosTokenId = this.bosToken === undefined ? undefined : this.tokenToId(this.bosToken);
    this.eosTokenId = this.eosToken === undefined ? undefined : this.tokenToId(this.eosToken);
    this.addBosToken = config.add_bos_token === true;
    this.addEosToken = config.add_eos_token === true;
    this.chatTemplate = chatTemplateOf(config);
  }

  /**
   * Load `tokenizer.json` and `tokenizer_config.json` from a model folder (the Hugging Face hub layout).
   * @throws {@link TokenizerError} naming the file when one is missing, unreadable or not a valid tokenizer.
   */
  static async fromFolder(dir: string): Promise<Tokenizer> {
    const tokenizerPath = join(dir, 'tokenizer.json');
    const configPath = join(dir, 'tokenizer_config.json');
    const [tokenizerJson, config] = await Promise.all([
      readJsonFile(tokenizerPath),
      readJsonFile(configPath),
    ]);
    return Tokenizer.#create(tokenizerJson, config, tokenizerPath, configPath);
  }

  /**
   * Load the tokenizer of a model: from a GGUF file's tokenizer metadata when `path` names a `.gguf` file,
   * else from the folder's `tokenizer.json` and `tokenizer_config.json` ({@link Tokenizer.fromFolder}).
   * @throws {@link TokenizerError} or CheckpointError naming the file when the tokenizer cannot be read.
   */
  static async fromModel(path: string): Promise<Tokenizer> {
    if (!isGgufPath(path)) return Tokenizer.fromFolder(path);
    const file = await GgufFile.open(path);
    try {
      const { tokenizerJson, tokenizerConfig } = tokenizerFromGguf(file);
      return Tokenizer.#create(
        tokenizerJson,
        tokenizerConfig,
        `${path} (tokenizer)`,
        `${path} (tokenizer config)`,
      );
    } finally {
      await file.close();
    }
  }

  /**
   * Build a tokenizer from the parsed contents of `tokenizer.json` and `tokenizer_config.json` (JSON text is
   * accepted too).
   * @throws {@link TokenizerError} when either is not JSON describing a tokenizer.
   */
  static fromJson(tokenizerJson: unknown, tokenizerConfig: unknown): Tokenizer {
    return Tokenizer.#create(tokenizerJson, tokenizerConfig, 'tokenizer.json', 'tokenizer_config.json');
  }

  static #create(
    tokenizerJson: unknown,
    config: unknown,
    tokenizerName: string,
    configName: string,
  ): Tokenizer {
    const parse = (value: unknown, name: string): Record<string, unknown> => {
      let v = value;
      if (typeof v === 'string') {
        try {
          v = JSON.parse(v) as unknown;
        } catch (cause) {
          throw new TokenizerError(`${name} is not valid JSON: ${(cause as Error).message}`, {
            file: name,
            cause,
          });
        }
      }
      if (!isRecord(v)) throw new TokenizerError(`${name} must hold a JSON object`, { file: name });
      return v;
    };
    const tj = parse(tokenizerJson, tokenizerName);
    const cfg = parse(config, configName);
    if (!isRecord(tj.model) || !Array.isArray(tj.added_tokens)) {
      throw new TokenizerError(
        `${tokenizerName} does not describe a tokenizer (no "model" or "added_tokens")`,
        {
          file: tokenizerName,
        },
      );
    }
    let tokenizer: Tokenizer;
    try {
      tokenizer = new Tokenizer(tj, cfg);
    } catch (cause) {
      if (cause instanceof TokenizerError) throw cause;
      throw new TokenizerError(
        `cannot build a tokenizer from ${tokenizerName}: ${(cause as Error).message}`,
        {
          file: tokenizerName,
          cause,
        },
      );
    }
    if (tokenizer.chatTemplate !== undefined) {
      // Compiled once at load, so a broken template is reported against its file, not on the first request.
      try {
        new ChatTemplate(tokenizer.chatTemplate);
      } catch (cause) {
        throw new TokenizerError(`${configName}: field "chat_template": ${(cause as Error).message}`, {
          file: configName,
          cause,
        });
      }
    }
    return tokenizer;
  }

  /**
   * Token ids of `text`. Added tokens written in the text are recognized. With `addSpecialTokens`, BOS is
   * prepended when the config says `add_bos_token` (and EOS appended for `add_eos_token`).
   */
  encode(text: string, options: TokenizerEncodeOptions = {}): number[] {
    const ids = this.#hf.encode(text, { add_special_tokens: false }).ids;
    if (options.addSpecialTokens === true) {
      if (this.addBosToken && this.bosTokenId !== undefined) ids.unshift(this.bosTokenId);
      if (this.addEosToken && this.eosTokenId !== undefined) ids.push(this.eosTokenId);
    }
    return ids;
  }

  /**
   * Text of a sequence of ids. Ids outside the vocabulary are skipped (as the Python library does). Byte
   * sequences that are not valid UTF-8 decode to U+FFFD; for incremental decoding use {@link StreamDecoder}.
   */
  decode(ids: readonly number[], options: TokenizerDecodeOptions = {}): string {
    const skip = options.skipSpecialTokens === true;
    const kept = ids.filter((id) => this.#idToToken[id] !== undefined && !(skip && this.#specialIds.has(id)));
    if (kept.length === 0) return '';
    if (!this.#byteLevel) return this.#hf.decode(kept, { clean_up_tokenization_spaces: false });
    const parts = kept.map((id) => this.tokenBytes(id));
    const total = parts.reduce((n, p) => n + p.length, 0);
    const bytes = new Uint8Array(total);
    let at = 0;
    for (const p of parts) {
      bytes.set(p, at);
      at += p.length;
    }
    return new TextDecoder('utf-8', TEXT_DECODER_OPTIONS).decode(bytes);
  }

  /** Id of a token string (a vocabulary entry in its byte-level form, or an added token's text), or undefined. */
  tokenToId(token: string): number | undefined {
    return this.#hf.token_to_id(token);
  }

  /** The token string of an id (byte-level form for vocabulary entries), or undefined outside the vocabulary. */
  idToToken(id: number): string | undefined {
    return this.#idToToken[id];
  }

  /** Whether `id` is an added token marked `special` (BOS, EOS, pad, placeholders). */
  isSpecialId(id: number): boolean {
    return this.#specialIds.has(id);
  }

  /** Whether the decoder is byte-level, so that {@link tokenBytes} is available. */
  get isByteLevel(): boolean {
    return this.#byteLevel;
  }

  /**
   * The raw UTF-8 bytes one token contributes to decoded text; empty for an id outside the vocabulary. A
   * token may hold part of a multi-byte character. Only for byte-level tokenizers ({@link isByteLevel}).
   * @throws {@link TokenizerError} for a tokenizer whose decoder is not byte-level.
   */
  tokenBytes(id: number): Uint8Array {
    if (!this.#byteLevel)
      throw new TokenizerError('tokenBytes needs a byte-level tokenizer (decoder type ByteLevel)');
    let bytes = this.#bytesCache.get(id);
    if (bytes === undefined) {
      const token = this.#idToToken[id];
      bytes = token === undefined ? new Uint8Array(0) : byteLevelTokenBytes(token);
      this.#bytesCache.set(id, bytes);
    }
    return bytes;
  }
}
