export { ChatEncodingError } from './chat-encoding-error.js';
export type {
  ChatMessage,
  ChatRole,
  ChatTool,
  ChatToolCall,
  ChatToolFunction,
  ParsedAssistantMessage,
  ParsedToolCall,
  ThinkingMode,
} from './chat-message.js';
export { type ChatDelta, ChatOutput } from './chat-output.js';
export { renderChatPrompt } from './chat-prompt.js';
export { type EncodeMessagesOptions, encodeMessages } from './dsv32-encoding.js';
export { Dsv32ParseError } from './dsv32-parse-error.js';
export { parseMessageFromCompletionText } from './dsv32-parser.js';
export { type CompletionStreamEvent, CompletionStreamParser } from './dsv32-stream-parser.js';
export { DSV32_TOKENS } from './dsv32-tokens.js';
export { ChatTemplate, type ChatTemplateRenderOptions, renderChatTemplate } from './jinja-template.js';
export { PyFloat, pythonFloatRepr } from './python-float.js';
export { type PyJsonValue, pyJsonDumps, pyJsonString } from './python-json.js';
export { PyJsonDecodeError, pyJsonLoads } from './python-json-parse.js';
