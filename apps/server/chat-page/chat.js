// The chat page of `dsa serve`: plain DOM, no dependencies, nothing fetched but this server's API.
// It streams /v1/chat/completions (SSE), shows reasoning apart (collapsible) and tool calls, and cancels
// a request with Stop (aborting the fetch closes the connection, which cancels the generation).
const $ = (id) => document.getElementById(id);
const KEY_STORAGE = 'dsa-chat-api-key';

/** @type {{ role: string, content: string, reasoning_content?: string, tool_calls?: unknown[] }[]} */
let history = [];
/** @type {AbortController | null} */
let inFlight = null;
let modelId = null;

function apiHeaders() {
  const key = sessionStorage.getItem(KEY_STORAGE);
  return { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) };
}

function setStatus(text) {
  $('status').textContent = text;
}

/** Loads the model's name and context size; asks for the API key when the server wants one. */
async function loadModel() {
  const response = await fetch('/v1/models', { headers: apiHeaders() });
  if (response.status === 401) {
    $('key-form').hidden = false;
    $('model').textContent = 'this server needs an API key';
    if (sessionStorage.getItem(KEY_STORAGE)) $('key-error').textContent = 'That key was refused.';
    $('api-key').focus();
    return false;
  }
  if (!response.ok) throw new Error(`GET /v1/models: ${response.status}`);
  const model = (await response.json()).data[0];
  modelId = model.id;
  $('key-form').hidden = true;
  $('model').textContent = `${model.id} · context ${model.max_model_len.toLocaleString('en')} tokens`;
  $('model').dataset.contextLength = String(model.max_model_len);
  $('max-tokens').max = String(model.max_model_len);
  return true;
}

/** A message row: the role label, then (for answers) reasoning, content and tool calls. */
function addMessage(role, text) {
  const item = document.createElement('li');
  item.className = role;
  const label = document.createElement('span');
  label.className = 'role';
  label.textContent = role === 'user' ? 'You' : 'Assistant';
  const content = document.createElement('div');
  content.className = 'content';
  content.textContent = text;
  item.append(label, content);
  $('messages').append(item);
  item.scrollIntoView({ block: 'end' });
  return item;
}

function reasoningBox(item) {
  let box = item.querySelector('.reasoning');
  if (!box) {
    box = document.createElement('details');
    box.className = 'reasoning';
    box.open = true;
    const summary = document.createElement('summary');
    summary.textContent = 'Reasoning';
    const text = document.createElement('div');
    text.className = 'reasoning-text';
    box.append(summary, text);
    item.querySelector('.content').before(box);
  }
  return box;
}

function showToolCall(item, call) {
  const box = document.createElement('div');
  box.className = 'tool-call';
  box.textContent = `tool call ${call.function.name}(${call.function.arguments ?? ''})`;
  item.append(box);
}

function note(item, text, error = false) {
  const span = document.createElement('span');
  span.className = error ? 'note error' : 'note';
  span.textContent = text;
  item.append(span);
}

/** The request body from the settings panel; throws with a message for the user on bad input. */
function requestBody() {
  const number = (id) => ($(id).value === '' ? undefined : Number($(id).value));
  const body = {
    model: modelId,
    messages: [
      ...($('system').value.trim() ? [{ role: 'system', content: $('system').value }] : []),
      ...history,
    ],
    stream: true,
    stream_options: { include_usage: true },
    temperature: number('temperature'),
    top_p: number('top-p'),
    max_tokens: number('max-tokens'),
    seed: number('seed'),
    reasoning: $('think').checked,
  };
  if ($('tools').value.trim()) {
    try {
      body.tools = JSON.parse($('tools').value);
    } catch (error) {
      throw new Error(`Tools: not valid JSON (${error.message})`);
    }
  }
  return body;
}

/** Reads `data:` events from an SSE response body. */
async function* events(response) {
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let end = buffer.indexOf('\n\n');
    while (end >= 0) {
      const event = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      for (const line of event.split('\n')) {
        if (!line.startsWith('data: ')) continue;
        const data = line.slice(6);
        if (data === '[DONE]') return;
        yield JSON.parse(data);
      }
      end = buffer.indexOf('\n\n');
    }
  }
}

function busy(on) {
  $('send').disabled = on;
  $('stop').disabled = !on;
  $('prompt').setAttribute('aria-busy', String(on));
}

async function send(text) {
  let body;
  history.push({ role: 'user', content: text });
  addMessage('user', text);
  const item = addMessage('assistant', '');
  item.setAttribute('aria-busy', 'true');
  const answer = { role: 'assistant', content: '' };
  const toolCalls = [];
  let reasoning = '';
  try {
    body = requestBody();
  } catch (error) {
    note(item, error.message, true);
    history.pop();
    item.removeAttribute('aria-busy');
    return;
  }
  inFlight = new AbortController();
  busy(true);
  setStatus('generating…');
  const started = performance.now();
  let tokens = 0;
  try {
    const response = await fetch('/v1/chat/completions', {
      method: 'POST',
      headers: apiHeaders(),
      body: JSON.stringify(body),
      signal: inFlight.signal,
    });
    if (!response.ok) {
      const error = await response.json().catch(() => ({}));
      throw new Error(error.error?.message ?? `HTTP ${response.status}`);
    }
    for await (const chunk of events(response)) {
      if (chunk.error) throw new Error(chunk.error.message);
      if (chunk.usage) tokens = chunk.usage.completion_tokens;
      const choice = chunk.choices?.[0];
      if (!choice) continue;
      const delta = choice.delta ?? {};
      if (delta.reasoning_content) {
        reasoning += delta.reasoning_content;
        reasoningBox(item).querySelector('.reasoning-text').textContent = reasoning;
      }
      if (delta.content) {
        if (reasoning) reasoningBox(item).open = false;
        answer.content += delta.content;
        item.querySelector('.content').textContent = answer.content;
        item.dataset.chunks = String(Number(item.dataset.chunks ?? 0) + 1);
      }
      for (const call of delta.tool_calls ?? []) {
        toolCalls.push(call);
        showToolCall(item, call);
      }
      if (choice.finish_reason) item.dataset.finish = choice.finish_reason;
    }
    const seconds = (performance.now() - started) / 1000;
    setStatus(tokens ? `${tokens} tokens in ${seconds.toFixed(1)} s` : '');
  } catch (error) {
    if (error.name === 'AbortError') {
      item.dataset.finish = 'stopped';
      note(item, 'stopped');
      setStatus('stopped');
    } else {
      item.dataset.finish = 'error';
      note(item, error.message, true);
      setStatus('');
    }
  } finally {
    inFlight = null;
    busy(false);
    item.removeAttribute('aria-busy');
  }
  if (reasoning) answer.reasoning_content = reasoning;
  if (toolCalls.length) answer.tool_calls = toolCalls.map(({ index: _, ...call }) => call);
  history.push(answer);
  $('prompt').focus();
}

$('composer').addEventListener('submit', (event) => {
  event.preventDefault();
  const text = $('prompt').value;
  if (!text.trim() || inFlight) return;
  $('prompt').value = '';
  void send(text);
});
$('prompt').addEventListener('keydown', (event) => {
  if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    $('composer').requestSubmit();
  }
});
$('stop').addEventListener('click', () => inFlight?.abort());
$('clear').addEventListener('click', () => {
  inFlight?.abort();
  history = [];
  $('messages').replaceChildren();
  setStatus('');
});
$('key-form').addEventListener('submit', (event) => {
  event.preventDefault();
  sessionStorage.setItem(KEY_STORAGE, $('api-key').value);
  void loadModel().catch((error) => setStatus(error.message));
});

loadModel()
  .then((ready) => {
    if (ready) $('prompt').focus();
    document.body.dataset.ready = String(ready);
  })
  .catch((error) => setStatus(`cannot reach the server: ${error.message}`));
