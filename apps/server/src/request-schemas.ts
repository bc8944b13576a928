// JSON schemas for request validation (fastify/ajv). Unknown top-level fields are refused, as OpenAI does.

const sampling = {
  model: { type: 'string' },
  max_tokens: { type: ['integer', 'null'], minimum: 1 },
  temperature: { type: ['number', 'null'], minimum: 0, maximum: 2 },
  top_p: { type: ['number', 'null'], exclusiveMinimum: 0, maximum: 1 },
  top_k: { type: ['integer', 'null'], minimum: -1 },
  min_p: { type: ['number', 'null'], minimum: 0, maximum: 1 },
  frequency_penalty: { type: ['number', 'null'], minimum: -2, maximum: 2 },
  presence_penalty: { type: ['number', 'null'], minimum: -2, maximum: 2 },
  repetition_penalty: { type: ['number', 'null'], exclusiveMinimum: 0 },
  seed: { type: ['integer', 'null'], minimum: 0, maximum: 4294967295 },
  stop: {
    anyOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' }, maxItems: 16 }, { type: 'null' }],
  },
  stop_token_ids: { type: ['array', 'null'], items: { type: 'integer', minimum: 0 } },
  n: { type: ['integer', 'null'], minimum: 1 },
  stream: { type: ['boolean', 'null'] },
  stream_options: {
    type: ['object', 'null'],
    properties: { include_usage: { type: 'boolean' } },
    additionalProperties: false,
  },
  logit_bias: {
    type: ['object', 'null'],
    additionalProperties: { type: 'number', minimum: -100, maximum: 100 },
  },
  user: { type: 'string' },
  ignore_eos: { type: 'boolean' },
} as const;

/** A request body: the field `required`, the sampling fields and `properties`; unknown fields refused. */
function requestSchema<const P extends object>(required: string, properties: P) {
  return {
    type: 'object',
    required: [required],
    additionalProperties: false,
    properties: { ...sampling, ...properties },
  } as const;
}

/** POST /v1/chat/completions */
export const chatCompletionSchema = requestSchema('messages', {
  max_completion_tokens: { type: ['integer', 'null'], minimum: 1 },
  messages: {
    type: 'array',
    minItems: 1,
    items: {
      type: 'object',
      required: ['role'],
      properties: {
        role: { enum: ['system', 'developer', 'user', 'assistant', 'tool'] },
        content: {
          anyOf: [
            { type: 'string' },
            { type: 'null' },
            {
              type: 'array',
              items: {
                type: 'object',
                required: ['type'],
                properties: { type: { const: 'text' }, text: { type: 'string' } },
              },
            },
          ],
        },
        reasoning_content: { type: ['string', 'null'] },
        tool_calls: { type: ['array', 'null'] },
        tool_call_id: { type: 'string' },
        name: { type: 'string' },
      },
    },
  },
  logprobs: { type: ['boolean', 'null'] },
  top_logprobs: { type: ['integer', 'null'], minimum: 0, maximum: 20 },
  tools: {
    type: ['array', 'null'],
    items: {
      type: 'object',
      required: ['type', 'function'],
      properties: {
        type: { const: 'function' },
        function: { type: 'object', required: ['name'], properties: { name: { type: 'string' } } },
      },
    },
  },
  tool_choice: { anyOf: [{ enum: ['none', 'auto', 'required'] }, { type: 'object' }] },
  parallel_tool_calls: { type: 'boolean' },
  reasoning: { anyOf: [{ type: 'boolean' }, { type: 'object' }] },
  reasoning_effort: { type: ['string', 'null'] },
  chat_template_kwargs: { type: 'object' },
  response_format: { type: 'object' },
});

/** POST /v1/completions */
export const completionSchema = requestSchema('prompt', {
  prompt: {
    anyOf: [{ type: 'string' }, { type: 'array', items: { type: 'integer', minimum: 0 }, minItems: 1 }],
  },
  logprobs: { type: ['integer', 'null'], minimum: 0, maximum: 20 },
  echo: { type: 'boolean' },
  suffix: { type: 'null' },
});
