import { CheckpointError } from '../checkpoint/checkpoint-error.js';
import type { GgufFile } from './gguf-file.js';
import { type GgufValue, gguf } from './gguf-value.js';

/** llama.cpp token types (`llama_token_type`, gguf-py `TokenType`). */
export const TOKEN_TYPE = { normal: 1, unknown: 2, control: 3, userDefined: 4, unused: 5, byte: 6 } as const;

/** The pre-tokenizer name llama.cpp gives DeepSeek-V3's byte-level BPE (`LLAMA_VOCAB_PRE_TYPE_DEEPSEEK3_LLM`). */
export const DEEPSEEK_V3_PRE = 'deepseek-v3';

/** DeepSeek-V3's `tokenizer.json` pre-tokenizer, the one `deepseek-v3` stands for. */
const DEEPSEEK_V3_PRE_TOKENIZER = {
  type: 'Sequence',
  pretokenizers: [
    { type: 'Split', pattern: { Regex: '\\p{N}{1,3}' }, behavior: 'Isolated', invert: false },
    {
      type: 'Split',
      pattern: { Regex: '[\u4e00-\u9fa5\u3040-\u309f\u30a0-\u30ff]+' },
      behavior: 'Isolated',
      invert: false,
    },
    {
      type: 'Split',
      pattern: {
        Regex:
          '[!"#$%&\'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+',
      },
      behavior: 'Isolated',
      invert: false,
    },
    { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
  ],
};

interface AddedToken {
  readonly id: number;
  readonly content: string;
  readonly special?: boolean;
}

type Json = Record<string, unknown>;

/** A tokenizer as Hugging Face stores it: the parsed `tokenizer.json` and `tokenizer_config.json`. */
export interface HfTokenizerFiles {
  /** The parsed `tokenizer.json`. */
  readonly tokenizerJson: Record<string, unknown>;
  /** The parsed `tokenizer_config.json`. */
  readonly tokenizerConfig: Record<string, unknown>;
}

/** A special token of tokenizer_config.json: a string or an AddedToken object with `content`. */
function tokenText(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'object' && value !== null && typeof (value as Json).content === 'string') {
    return (value as Json).content as string;
  }
  return undefined;
}

/** gguf-py's `does_token_look_special` for the DeepSeek spellings. */
function looksSpecial(token: string): boolean {
  return (
    (token.startsWith('<|') && token.endsWith('|>')) ||
    (token.startsWith('<｜') && token.endsWith('｜>')) ||
    token === '<pad>'
  );
}

/**
 * Whether a `tokenizer.json` pre-tokenizer splits text as DeepSeek-V3's does: the same `Split` regexes in the
 * same order (isolated, not inverted) followed by a `ByteLevel` step that applies no regex of its own. That is
 * the only pre-tokenizer {@link tokenizerToGguf} can name (`deepseek-v3`), so llama.cpp tokenizes like we do.
 */
export function isDeepseekV3PreTokenizer(pre: unknown): boolean {
  const steps = (pre as Json | null)?.pretokenizers;
  const want = DEEPSEEK_V3_PRE_TOKENIZER.pretokenizers;
  if ((pre as Json | null)?.type !== 'Sequence' || !Array.isArray(steps) || steps.length !== want.length) {
    return false;
  }
  return want.every((w, i) => {
    const step = steps[i] as Json;
    if (step?.type !== w.type) return false;
    if (w.type === 'ByteLevel') return step.use_regex === false;
    const pattern = step.pattern as Json | undefined;
    return (
      pattern?.Regex === (w as { pattern: { Regex: string } }).pattern.Regex &&
      step.behavior === 'Isolated' &&
      step.invert !== true
    );
  });
}

/**
 * The GGUF tokenizer metadata of a Hugging Face byte-level BPE tokenizer, as llama.cpp's converter writes it
 * (`tokenizer.ggml.model` `gpt2`, pre-tokenizer `deepseek-v3`, one token string and type per id up to
 * `vocabSize` with `[PAD{i}]` for ids the tokenizer lacks, the merges, BOS/EOS/padding ids, `add_bos_token`,
 * `add_eos_token`, and the chat template when the config has one).
 *
 * @throws CheckpointError naming the file and field when the tokenizer is not byte-level BPE, its
 *   pre-tokenizer is not DeepSeek-V3's ({@link isDeepseekV3PreTokenizer}: llama.cpp would split text
 *   differently), or it has more ids than the model's vocabulary.
 */
export function tokenizerToGguf(
  tokenizerJson: Record<string, unknown>,
  tokenizerConfig: Record<string, unknown>,
  vocabSize: number,
  file: string,
): Map<string, GgufValue> {
  const model = tokenizerJson.model as Json | undefined;
  if (model?.type !== 'BPE' || typeof model.vocab !== 'object' || !Array.isArray(model.merges)) {
    throw new CheckpointError(
      `${file}: field "model": expected a BPE model with "vocab" and "merges" (llama.cpp's gpt2 tokenizer), found ${JSON.stringify(model?.type)}`,
      { file, tensor: 'model' },
    );
  }
  const decoder = tokenizerJson.decoder as Json | undefined;
  if (decoder?.type !== 'ByteLevel') {
    throw new CheckpointError(
      `${file}: field "decoder": expected a ByteLevel decoder (byte-level BPE), found ${JSON.stringify(decoder?.type)}`,
      { file, tensor: 'decoder' },
    );
  }
  if (!isDeepseekV3PreTokenizer(tokenizerJson.pre_tokenizer)) {
    throw new CheckpointError(
      `${file}: field "pre_tokenizer": not DeepSeek-V3's split (the only pre-tokenizer this writer names, "${DEEPSEEK_V3_PRE}"); llama.cpp would tokenize differently`,
      { file, tensor: 'pre_tokenizer' },
    );
  }
  const tokens: (string | undefined)[] = new Array(vocabSize);
  const types: number[] = new Array(vocabSize).fill(TOKEN_TYPE.unused);
  const place = (id: unknown, text: string, type: number, field: string) => {
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0 || id >= vocabSize) {
      throw new CheckpointError(
        `${file}: ${field}: token ${JSON.stringify(text)} has id ${String(id)}, outside the model's vocabulary [0, ${vocabSize})`,
        { file, tensor: field },
      );
    }
    tokens[id] = text;
    types[id] = type;
  };
  for (const [text, id] of Object.entries(model.vocab as Record<string, unknown>)) {
    place(id, text, TOKEN_TYPE.normal, 'model.vocab');
  }
  for (const t of (tokenizerJson.added_tokens ?? []) as AddedToken[]) {
    const control = t.special === true || looksSpecial(t.content);
    place(
      t.id,
      control ? t.content : t.content.replaceAll('▁', ' '),
      control ? TOKEN_TYPE.control : TOKEN_TYPE.userDefined,
      'added_tokens',
    );
  }
  const list = Array.from(tokens, (t, i) => t ?? `[PAD${i}]`);
  const merges = (model.merges as unknown[]).map((m) => (Array.isArray(m) ? m.join(' ') : String(m)));

  const out = new Map<string, GgufValue>();
  out.set('tokenizer.ggml.model', gguf.string('gpt2'));
  out.set('tokenizer.ggml.pre', gguf.string(DEEPSEEK_V3_PRE));
  out.set('tokenizer.ggml.tokens', gguf.strings(list));
  out.set('tokenizer.ggml.token_type', gguf.i32s(types));
  out.set('tokenizer.ggml.merges', gguf.strings(merges));
  const idOf = (field: string): number | undefined => {
    const text = tokenText(tokenizerConfig[field]);
    if (text === undefined) return undefined;
    const id = list.indexOf(text);
    return id < 0 ? undefined : id;
  };
  const bos = idOf('bos_token');
  const eos = idOf('eos_token');
  const pad = idOf('pad_token');
  if (bos !== undefined) out.set('tokenizer.ggml.bos_token_id', gguf.u32(bos));
  if (eos !== undefined) out.set('tokenizer.ggml.eos_token_id', gguf.u32(eos));
  if (pad !== undefined) out.set('tokenizer.ggml.padding_token_id', gguf.u32(pad));
  out.set('tokenizer.ggml.add_bos_token', gguf.bool(tokenizerConfig.add_bos_token === true));
  out.set('tokenizer.ggml.add_eos_token', gguf.bool(tokenizerConfig.add_eos_token === true));
  const template = tokenizerConfig.chat_template;
  if (typeof template === 'string') out.set('tokenizer.chat_template', gguf.string(template));
  return out;
}

/**
 * Rebuilds `tokenizer.json` and `tokenizer_config.json` objects from a GGUF file's tokenizer metadata, for
 * {@link Tokenizer.fromJson}: normal tokens form the BPE vocabulary, control and user-defined tokens the
 * added tokens (control ones special), `[PAD]` fillers are dropped.
 *
 * @throws CheckpointError naming the file and key when the tokenizer is missing, not `gpt2` (byte-level
 *   BPE), uses a pre-tokenizer other than `deepseek-v3`, or its arrays are malformed.
 */
export function tokenizerFromGguf(file: GgufFile): HfTokenizerFiles {
  const fail = (key: string, message: string): never => {
    throw new CheckpointError(`${file.path}: ${key}: ${message}`, { file: file.path, tensor: key });
  };
  const str = (key: string): string | undefined => {
    const v = file.get(key);
    if (v === undefined) return undefined;
    if (v.type !== 'string') fail(key, `expected a string, found ${v.type}`);
    return v.value as string;
  };
  const array = (key: string, itemType: string): readonly unknown[] => {
    const v = file.get(key);
    if (v === undefined) return fail(key, 'is missing');
    if (v.type !== 'array' || v.itemType !== itemType) {
      fail(
        key,
        `expected an array of ${itemType}, found ${v.type === 'array' ? `an array of ${v.itemType}` : v.type}`,
      );
    }
    return v.value as readonly unknown[];
  };
  const id = (key: string): number | undefined => {
    const v = file.get(key);
    if (v === undefined) return undefined;
    if (v.type !== 'u32' && v.type !== 'i32') fail(key, `expected a u32, found ${v.type}`);
    return v.value as number;
  };
  const flag = (key: string): boolean => {
    const v = file.get(key);
    return v?.type === 'bool' && v.value === true;
  };

  const model = str('tokenizer.ggml.model');
  if (model !== 'gpt2') {
    fail(
      'tokenizer.ggml.model',
      `expected "gpt2" (byte-level BPE, as DeepSeek uses), found ${JSON.stringify(model)}`,
    );
  }
  const pre = str('tokenizer.ggml.pre');
  if (pre !== DEEPSEEK_V3_PRE) {
    fail('tokenizer.ggml.pre', `expected "${DEEPSEEK_V3_PRE}", found ${JSON.stringify(pre)}`);
  }
  const tokens = array('tokenizer.ggml.tokens', 'string') as readonly string[];
  const types = array('tokenizer.ggml.token_type', 'i32') as readonly number[];
  if (types.length !== tokens.length) {
    fail(
      'tokenizer.ggml.token_type',
      `has ${types.length} entries, tokenizer.ggml.tokens has ${tokens.length}`,
    );
  }
  const merges = array('tokenizer.ggml.merges', 'string') as readonly string[];

  // No prototype: a token spelled `__proto__` (or `constructor`) is a key like any other.
  const vocab: Record<string, number> = Object.create(null);
  const added: Json[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const type = types[i];
    if (type === TOKEN_TYPE.normal) vocab[tokens[i]!] = i;
    else if (type === TOKEN_TYPE.control || type === TOKEN_TYPE.userDefined) {
      added.push({
        id: i,
        content: tokens[i],
        single_word: false,
        lstrip: false,
        rstrip: false,
        normalized: false,
        special: type === TOKEN_TYPE.control,
      });
    }
  }
  const tokenizerJson: Json = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: { type: 'Sequence', normalizers: [] },
    pre_tokenizer: DEEPSEEK_V3_PRE_TOKENIZER,
    post_processor: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      vocab,
      merges: [...merges],
    },
  };
  const tokenAt = (key: string): string | undefined => {
    const i = id(key);
    if (i === undefined) return undefined;
    if (i >= tokens.length) fail(key, `id ${i} is outside the ${tokens.length} tokens`);
    return tokens[i];
  };
  const tokenizerConfig: Json = {
    add_bos_token: flag('tokenizer.ggml.add_bos_token'),
    add_eos_token: flag('tokenizer.ggml.add_eos_token'),
    tokenizer_class: 'LlamaTokenizerFast',
  };
  const bos = tokenAt('tokenizer.ggml.bos_token_id');
  const eos = tokenAt('tokenizer.ggml.eos_token_id');
  const pad = tokenAt('tokenizer.ggml.padding_token_id');
  if (bos !== undefined) tokenizerConfig.bos_token = bos;
  if (eos !== undefined) tokenizerConfig.eos_token = eos;
  if (pad !== undefined) tokenizerConfig.pad_token = pad;
  const template = str('tokenizer.chat_template');
  if (template !== undefined) tokenizerConfig.chat_template = template;
  return { tokenizerJson, tokenizerConfig };
}
