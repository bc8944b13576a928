/** True when a model path names a GGUF file (by its `.gguf` extension) rather than a checkpoint folder. */
export function isGgufPath(path: string): boolean {
  return path.toLowerCase().endsWith('.gguf');
}
