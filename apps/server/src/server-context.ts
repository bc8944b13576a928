import type { Engine, Tokenizer } from '@dsa/runtime';
import type { GenerationDefaults } from './generation.js';

/** What the routes share. */
export interface ServerContext {
  readonly engine: Engine;
  readonly tokenizer: Tokenizer;
  readonly modelName: string;
  readonly defaults: GenerationDefaults;
  /** Throws a 404 OpenAI error if `model` is given and is not this server's model. */
  checkModel(model: string | undefined): void;
}
