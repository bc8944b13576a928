// The chat page at `/`: served without the API key, offline (no third-party origin), and driven end to
// end in a real headless Chromium (Debian's `chromium`, which .ci/run installs) through playwright-core.
import fs from 'node:fs';
import path from 'node:path';
import { ReferenceBackend } from '@dsa/backend-reference';
import { DeepseekModel, Engine, Tokenizer } from '@dsa/runtime';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer } from './server.js';

const dir = path.resolve(import.meta.dirname, '../../../fixtures/tiny-chat');
const CHROMIUM = process.env.DSA_CHROMIUM ?? '/usr/bin/chromium';
let app: ReturnType<typeof createServer>;
let base: string;
let engine: Engine;

/**
 * The reference backend, 20 ms slower per download (one per decode step): tiny-chat otherwise writes
 * its whole 256-token context faster than a person (or this test) can press Stop.
 */
class PacedBackend extends ReferenceBackend {
  override async download(...args: Parameters<ReferenceBackend['download']>): Promise<void> {
    await new Promise((resolve) => setTimeout(resolve, 20));
    return super.download(...args);
  }
}

beforeAll(async () => {
  const model = await DeepseekModel.load(new PacedBackend(), dir, { cacheTokens: 1024 });
  const tokenizer = await Tokenizer.fromFolder(dir);
  engine = new Engine(model, { tokenizer, maxQueue: 8 });
  app = createServer({ engine, tokenizer, modelName: 'tiny-chat', apiKey: 'secret' });
  base = await app.listen({ host: '127.0.0.1', port: 0 });
});
afterAll(async () => {
  await app.close();
  await engine.close();
});

describe('chat page over HTTP', () => {
  it('serves the page and its assets without the key, same-origin only', async () => {
    const page = await fetch(`${base}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.headers.get('content-security-policy')).toContain("default-src 'self'");
    const html = await page.text();
    expect(html).toContain('<script type="module" src="/chat/chat.js"></script>');
    // Offline: every URL the page loads is this server's.
    expect(html).not.toMatch(/(src|href)="(https?:)?\/\//);
    const script = await fetch(`${base}/chat/chat.js`);
    expect(script.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(await script.text()).toContain("fetch('/v1/chat/completions'");
    expect((await fetch(`${base}/chat/chat.css`)).status).toBe(200);
    // The API itself still needs the key.
    expect((await fetch(`${base}/v1/models`)).status).toBe(401);
    expect((await fetch(`${base}/chat/other.js`)).status).toBe(401);
  });
});

const hasChromium = fs.existsSync(CHROMIUM);
if (!hasChromium && process.env.CI)
  throw new Error(`${CHROMIUM} is missing: .ci/run installs Debian's chromium`);

describe.runIf(hasChromium)('chat page in headless Chromium', () => {
  let browser: Browser;
  let page: Page;
  beforeAll(async () => {
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    page = await browser.newPage({ viewport: { width: 900, height: 700 } });
    const foreign: string[] = [];
    page.on('request', (request) => {
      if (!request.url().startsWith(base)) foreign.push(request.url());
    });
    await page.goto(base);
    expect(foreign).toEqual([]);
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
  });

  const answers = () => page.locator('#messages li.assistant');

  it('asks for the API key, then shows the model name and context size', async () => {
    await page.locator('#key-form').waitFor({ state: 'visible' });
    await page.fill('#api-key', 'secret');
    await page.click('#key-form button[type=submit]');
    await expect.poll(() => page.textContent('#model')).toBe('tiny-chat · context 256 tokens');
    expect(await page.isVisible('#key-form')).toBe(false);
  });

  it('streams an answer token by token, stops it, and the server cancels the generation', async () => {
    await page.click('#settings summary');
    await page.fill('#max-tokens', '200');
    await page.fill('#temperature', '1');
    await page.fill('#seed', '3');
    // Record the answer's length at every DOM change, to see it grow chunk by chunk.
    await page.evaluate(`(() => {
      window.lengths = [];
      new MutationObserver(() => {
        const content = document.querySelector('#messages li.assistant .content');
        if (content) window.lengths.push(content.textContent.length);
      }).observe(document.getElementById('messages'), { childList: true, subtree: true, characterData: true });
    })()`);
    await page.fill('#prompt', 'Tell me a long story.');
    await page.press('#prompt', 'Enter');
    expect(await page.textContent('#messages li.user')).toContain('Tell me a long story.');
    const answer = answers().first();
    await expect
      .poll(async () => Number((await answer.getAttribute('data-chunks')) ?? 0), {
        timeout: 30_000,
        interval: 10,
      })
      .toBeGreaterThan(10);
    const lengths = (await page.evaluate('window.lengths')) as number[];
    const grown = lengths.filter((n, i) => i > 0 && n > lengths[i - 1]!);
    expect(grown.length).toBeGreaterThanOrEqual(10);
    expect(await page.isEnabled('#stop')).toBe(true);
    expect(await page.isDisabled('#send')).toBe(true);
    await page.click('#stop');
    await expect.poll(() => answer.getAttribute('data-finish')).toBe('stopped');
    expect(await answer.locator('.note').textContent()).toBe('stopped');
    await expect.poll(() => engine.stats().finished.cancelled).toBe(1);
    expect(engine.stats().running).toBe(0);
    const stoppedText = await answer.locator('.content').textContent();
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await answer.locator('.content').textContent()).toBe(stoppedText);
    expect(await page.isEnabled('#send')).toBe(true);
  }, 60_000);

  it('sends again in the same conversation and the answer finishes', async () => {
    await page.fill('#max-tokens', '12');
    await page.fill('#prompt', 'And a short one?');
    await page.click('#send');
    const second = answers().nth(1);
    await expect
      .poll(() => second.getAttribute('data-finish'), { timeout: 30_000 })
      .toMatch(/^(stop|length)$/);
    expect(((await second.locator('.content').textContent()) ?? '').length).toBeGreaterThan(0);
    expect(await page.textContent('#status')).toMatch(/^\d+ tokens in \d+\.\d s$/);
    expect(await page.locator('#messages li').count()).toBe(4);
  }, 60_000);

  it('shows reasoning apart, collapsible, and tool calls', async () => {
    // A canned stream in the server's format, with reasoning_content and a tool call.
    const chunk = (delta: object, finish: string | null = null) =>
      `data: ${JSON.stringify({ object: 'chat.completion.chunk', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
    await page.route('**/v1/chat/completions', (route) =>
      route.fulfill({
        status: 200,
        contentType: 'text/event-stream',
        body: [
          chunk({ role: 'assistant', content: '' }),
          chunk({ reasoning_content: 'The user wants ' }),
          chunk({ reasoning_content: 'the weather.' }),
          chunk({ content: 'Let me check.' }),
          chunk({
            tool_calls: [
              {
                index: 0,
                id: 'call_1',
                type: 'function',
                function: { name: 'get_weather', arguments: '{"city":"Paris"}' },
              },
            ],
          }),
          chunk({}, 'tool_calls'),
          'data: [DONE]\n\n',
        ].join(''),
      }),
    );
    await page.check('#think');
    await page.fill('#prompt', 'Weather in Paris?');
    await page.press('#prompt', 'Enter');
    const third = answers().nth(2);
    await expect.poll(() => third.getAttribute('data-finish')).toBe('tool_calls');
    const reasoning = third.locator('details.reasoning');
    expect(await reasoning.locator('.reasoning-text').textContent()).toBe('The user wants the weather.');
    // Collapsed once the answer started; opens on click.
    expect(await reasoning.getAttribute('open')).toBeNull();
    await reasoning.locator('summary').click();
    expect(await reasoning.getAttribute('open')).toBe('');
    expect(await third.locator('.content').textContent()).toBe('Let me check.');
    expect(await third.locator('.tool-call').textContent()).toBe('tool call get_weather({"city":"Paris"})');
    await page.unroute('**/v1/chat/completions');
    // The README's picture: DSA_CHAT_SCREENSHOT=docs/chat-page.png.
    if (process.env.DSA_CHAT_SCREENSHOT) {
      await page.click('#settings summary');
      await page.screenshot({ path: process.env.DSA_CHAT_SCREENSHOT, fullPage: true });
    }
  }, 60_000);
});
