import type { Tokenizer } from '../tokenizer/tokenizer.js';
import type { ChatMessage, ChatTool, ThinkingMode } from './chat-message.js';
import { encodeMessages } from './dsv32-encoding.js';
import { ChatTemplate } from './jinja-template.js';

/**
 * The prompt text for a conversation: the model's Jinja chat template when its tokenizer_config.json has one
 * (DeepSeek-V3.2-Exp), else the DeepSeek-V3.2 encoder (tools go into the system message, created if absent).
 */
export function renderChatPrompt(
  tokenizer: Tokenizer,
  messages: readonly ChatMessage[],
  options: { readonly thinking: ThinkingMode; readonly tools?: readonly ChatTool[] | null },
): string {
  const tools = options.tools?.length ? options.tools : null;
  const template = tokenizer.chatTemplate;
  if (template) {
    return new ChatTemplate(template, { bosToken: tokenizer.bosToken, eosToken: tokenizer.eosToken }).render({
      messages: messages as never,
      addGenerationPrompt: true,
      thinking: options.thinking === 'thinking',
      ...(tools ? { tools: tools as never } : {}),
    });
  }
  const list = [...messages];
  if (tools) {
    const system = list.findIndex((m) => m.role === 'system');
    if (system >= 0) list[system] = { ...list[system]!, tools };
    else list.unshift({ role: 'system', content: '', tools });
  }
  return encodeMessages(list, { thinkingMode: options.thinking });
}
