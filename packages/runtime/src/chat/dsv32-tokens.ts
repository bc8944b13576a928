/**
 * The literal texts of DeepSeek-V3.2's special markers as they appear in prompts and completions. The bars
 * are U+FF5C (fullwidth vertical line) and `▁` is U+2581. `dsml` is not a token of its own but the marker
 * inside the DSML tool-call tags (`<｜DSML｜invoke ...>`).
 */
export const DSV32_TOKENS = {
  /** Beginning of sequence. */
  bos: '<｜begin▁of▁sentence｜>',
  /** End of sequence; also ends each assistant turn. */
  eos: '<｜end▁of▁sentence｜>',
  /** Starts a user turn. */
  user: '<｜User｜>',
  /** Starts an assistant turn. */
  assistant: '<｜Assistant｜>',
  /** Opens the thinking (reasoning) block. */
  thinkingStart: '<think>',
  /** Closes the thinking block. */
  thinkingEnd: '</think>',
  /** Marker inside the DSML tool-call tags. */
  dsml: '｜DSML｜',
} as const;
