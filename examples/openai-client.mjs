// Talk to `dsa serve` with the official openai client.
// Start the server first:  pnpm dsa serve --model fixtures/tiny-chat --port 8000
// Then:                    node examples/openai-client.mjs
import OpenAI from 'openai';

const client = new OpenAI({
  baseURL: process.env.DSA_URL ?? 'http://127.0.0.1:8000/v1',
  apiKey: process.env.DSA_API_KEY ?? 'none',
});
const [model] = (await client.models.list()).data;
const reply = await client.chat.completions.create({
  model: model.id,
  messages: [{ role: 'user', content: 'Say hello.' }],
  max_tokens: 16,
});
console.log(reply.choices[0].message.content, reply.usage);
const stream = await client.chat.completions.create({
  model: model.id,
  messages: [{ role: 'user', content: 'Count to five.' }],
  max_tokens: 16,
  stream: true,
});
for await (const chunk of stream) process.stdout.write(chunk.choices[0]?.delta?.content ?? '');
process.stdout.write('\n');
