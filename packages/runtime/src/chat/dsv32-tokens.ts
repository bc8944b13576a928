/**
 * The literal texts of DeepSeek-V3.2's special markers as they appear in prompts and completions. The bars
 * are U+FF5C (fullwidth vertical line) and `▁` is U+2581. `dsml` is not a token of its own but the marker
 * inside the DSML tool-call tags (`<｜DSML｜invoke ...>`).
 */
export const DSV32_TOKENS = {
  bos: '<｜begin▁of▁sentence｜>',
  eos: '<｜end▁of▁sentence｜>',
  user: '<｜User｜>',
  assistant: '<｜Assistant｜>',
  thinkingStart: '<think>',
  thinkingEnd: '</think>',
  dsml: '｜DSML｜',
} as const;
