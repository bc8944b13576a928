// Test data: the parse cases of fixtures/chat/deepseek-v32-encoding.json (DeepSeek's encoding_dsv32.py
// outputs), shared by the parser and stream-parser tests.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ParsedAssistantMessage, ThinkingMode } from './chat-message.js';

/** One completion text and the message DeepSeek's reference parser makes of it. */
export interface ParseCase {
  /** The case's name in the fixture. */
  name: string;
  /** Whether the text was generated with thinking on. */
  thinking_mode: ThinkingMode;
  /** The completion text. */
  text: string;
  /** The reference parser's result. */
  result: ParsedAssistantMessage;
}

/** The fixture's parse cases. */
export const PARSE_CASES: readonly ParseCase[] = (
  JSON.parse(
    readFileSync(join(import.meta.dirname, '../../../../fixtures/chat/deepseek-v32-encoding.json'), 'utf8'),
  ) as { parse_cases: ParseCase[] }
).parse_cases;
