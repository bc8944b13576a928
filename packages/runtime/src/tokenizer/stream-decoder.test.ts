import { describe, expect, it } from 'vitest';
import { StreamDecoder } from './stream-decoder.js';
import { loadDeepseekV3Tokenizer, readTokenizerFixture } from './test-tokenizer.js';

const fixture = await readTokenizerFixture();
const tok = await loadDeepseekV3Tokenizer();

/** Is this byte string complete UTF-8 on its own? */
function completeUtf8(bytes: Uint8Array): boolean {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    return true;
  } catch {
    return false;
  }
}

describe('StreamDecoder', () => {
  it.each(fixture.encode.map((c, i) => [i, c] as const))(
    'case %i: token-by-token text equals the text',
    (_, c) => {
      const dec = new StreamDecoder(tok);
      const pieces = c.ids.map((id) => dec.push(id));
      pieces.push(dec.flush());
      for (const p of pieces) expect(p).not.toContain('\ufffd');
      expect(pieces.join('')).toBe(c.text);
    },
  );

  it('holds back emoji and CJK characters split across tokens', () => {
    const cases = fixture.encode.filter((c) => /[👍한]/u.test(c.text));
    expect(cases).toHaveLength(2);
    for (const c of cases) {
      const split = c.ids.filter((id) => !completeUtf8(tok.tokenBytes(id)));
      expect(split.length).toBeGreaterThan(0);
      const dec = new StreamDecoder(tok);
      const utf8 = new TextEncoder();
      let heldBack = 0;
      let pushedBytes = 0;
      let text = '';
      for (const id of c.ids) {
        pushedBytes += tok.tokenBytes(id).length;
        text += dec.push(id);
        // Bytes of a split character were received but not yet turned into text.
        if (utf8.encode(text).length < pushedBytes) heldBack++;
        // Whatever has come out is whole characters that start the text.
        expect(c.text.startsWith(text)).toBe(true);
        expect(text).not.toMatch(/[\ud800-\udbff]$/);
      }
      expect(heldBack).toBeGreaterThan(0);
      expect(text + dec.flush()).toBe(c.text);
    }
  });

  it('emits the skin-tone modifier of 👍🏽 only when its last byte arrives', () => {
    const c = fixture.encode.find((x) => x.text.startsWith('emoji 👍🏽'))!;
    const dec = new StreamDecoder(tok);
    const pieces = c.ids.map((id) => dec.push(id));
    const joined: string[] = [];
    let acc = '';
    for (const p of pieces) {
      acc += p;
      joined.push(acc);
    }
    const complete = joined.findIndex((s) => s.includes('🏽'));
    expect(complete).toBeGreaterThan(0);
    // The token before the one that completes 🏽 holds its first three bytes (f0 9f 8f): it added no text.
    expect(Buffer.from(tok.tokenBytes(c.ids[complete - 1]!)).toString('hex')).toBe('f09f8f');
    expect(pieces[complete - 1]).toBe('');
    expect(pieces[complete]).toBe('🏽');
  });

  it('flush turns an unfinished character into U+FFFD, as decode does', () => {
    const ids = fixture.encode.find((c) => c.text.startsWith('한국어'))!.ids;
    const cut = ids.findIndex((id) => !completeUtf8(tok.tokenBytes(id)));
    const prefix = ids.slice(0, cut + 1);
    const dec = new StreamDecoder(tok);
    const streamed = dec.pushMany(prefix) + dec.flush();
    expect(streamed).toBe(tok.decode(prefix));
    expect(streamed.endsWith('\ufffd')).toBe(true);
    // After flush the decoder starts afresh.
    expect(dec.pushMany(ids) + dec.flush()).toBe('한국어 텍스트');
  });

  it('streams special tokens as text, or skips them', () => {
    const ids = [0, 128803, 19923, 14, 2058, 3, 128804, 1];
    const keep = new StreamDecoder(tok);
    expect(keep.pushMany(ids) + keep.flush()).toBe(tok.decode(ids));
    const skip = new StreamDecoder(tok, { skipSpecialTokens: true });
    expect(skip.pushMany(ids) + skip.flush()).toBe(tok.decode(ids, { skipSpecialTokens: true }));
  });

  it('reset drops pending bytes', () => {
    const ids = fixture.encode.find((c) => c.text.startsWith('한국어'))!.ids;
    const cut = ids.findIndex((id) => !completeUtf8(tok.tokenBytes(id)));
    const dec = new StreamDecoder(tok);
    dec.pushMany(ids.slice(0, cut + 1));
    dec.reset();
    expect(dec.pushMany([19923]) + dec.flush()).toBe('Hello');
  });
});
