import { Template } from '@huggingface/jinja';
import { ChatEncodingError } from './chat-encoding-error.js';

/** Inputs of {@link ChatTemplate.render}; they become the template's variables. */
export interface ChatTemplateRenderOptions {
  /** The conversation (`messages`), OpenAI-style objects with at least `role` and `content`. */
  readonly messages: readonly object[];
  /** `add_generation_prompt`: end with the assistant prefix. Default false. */
  readonly addGenerationPrompt?: boolean;
  /** `bos_token` text; default the one given to the {@link ChatTemplate}. */
  readonly bosToken?: string;
  /** `eos_token` text; default the one given to the {@link ChatTemplate}. */
  readonly eosToken?: string;
  /** `thinking` (V3.1 / V3.2-Exp templates): open a `<think>` block in the generation prompt. Left undefined when absent. */
  readonly thinking?: boolean;
  /** `tools` (OpenAI format), for templates that render a tool list. Left undefined when absent. */
  readonly tools?: readonly object[];
  /** Any other template variables. */
  readonly variables?: Readonly<Record<string, unknown>>;
}

/**
 * A Hugging Face chat template (the Jinja `chat_template` of `tokenizer_config.json`, such as the
 * DeepSeek-V3 / V3.1 / V3.2-Exp ones), compiled once and rendered with `@huggingface/jinja`. Variables left
 * out of the options are undefined in the template, so `{% if thinking is defined %}` style checks behave as
 * in Python's transformers.
 */
export class ChatTemplate {
  /** The template source. */
  readonly source: string;
  readonly #template: Template;
  readonly #bosToken: string | undefined;
  readonly #eosToken: string | undefined;

  /**
   * @param source Jinja source.
   * @throws {@link ChatEncodingError} when the source does not compile.
   * @param tokens Default `bos_token` / `eos_token` texts (a tokenizer's `bosToken` / `eosToken`).
   */
  constructor(
    source: string,
    tokens: { readonly bosToken?: string | undefined; readonly eosToken?: string | undefined } = {},
  ) {
    this.source = source;
    try {
      this.#template = new Template(source);
    } catch (cause) {
      throw new ChatEncodingError(`chat template: cannot compile it: ${(cause as Error).message}`, { cause });
    }
    this.#bosToken = tokens.bosToken;
    this.#eosToken = tokens.eosToken;
  }

  /**
   * Render the prompt text (special tokens appear as their literal text).
   * @throws {@link ChatEncodingError} when the template fails (such as its `raise_exception` for a bad conversation).
   */
  render(options: ChatTemplateRenderOptions): string {
    const vars: Record<string, unknown> = {
      ...options.variables,
      messages: options.messages,
      add_generation_prompt: options.addGenerationPrompt ?? false,
    };
    const bosToken = options.bosToken ?? this.#bosToken;
    const eosToken = options.eosToken ?? this.#eosToken;
    if (bosToken !== undefined) vars.bos_token = bosToken;
    if (eosToken !== undefined) vars.eos_token = eosToken;
    if (options.thinking !== undefined) vars.thinking = options.thinking;
    if (options.tools !== undefined) vars.tools = options.tools;
    try {
      return this.#template.render(vars);
    } catch (cause) {
      throw new ChatEncodingError(`chat template: ${(cause as Error).message}`, { cause });
    }
  }
}

/** Compile and render a chat template in one call; see {@link ChatTemplate}. */
export function renderChatTemplate(source: string, options: ChatTemplateRenderOptions): string {
  return new ChatTemplate(source).render(options);
}
