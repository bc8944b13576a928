/**
 * The GPT-2 byte ↔ unicode table used by byte-level BPE (`ByteLevel` pre-tokenizer and decoder).
 *
 * Every byte 0..255 is given a printable code point: the printable Latin-1 bytes map to themselves and the
 * other 68 bytes (controls, space, 0x7F..0xA0, 0xAD) map to U+0100, U+0101, ... in byte order. A vocabulary
 * token is a string of such code points, one per byte of the original UTF-8 text.
 */
const UNICODE_TO_BYTE: ReadonlyMap<number, number> = (() => {
  const map = new Map<number, number>();
  const isPrintable = (b: number): boolean =>
    (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  let next = 0x100;
  for (let b = 0; b < 256; b++) {
    map.set(isPrintable(b) ? b : next++, b);
  }
  return map;
})();

const utf8 = new TextEncoder();

/**
 * The raw bytes of one byte-level BPE vocabulary token: each code point is mapped back through the GPT-2
 * table. A token holding a code point outside the table (which a byte-level vocabulary never produces, but
 * added tokens such as `<｜User｜>` do) is taken as its own UTF-8 text, as the Rust `tokenizers` ByteLevel
 * decoder does.
 */
export function byteLevelTokenBytes(token: string): Uint8Array {
  const out = new Uint8Array(token.length);
  let n = 0;
  for (const ch of token) {
    const b = UNICODE_TO_BYTE.get(ch.codePointAt(0)!);
    if (b === undefined) return utf8.encode(token);
    out[n++] = b;
  }
  return out.subarray(0, n);
}
