/** A command-line mistake: printed with the command's usage hint, exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** Parses `1,2,3` into token ids, naming the bad entry. */
export function parseIds(text: string, flag = '--ids'): number[] {
  const parts = text
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p.length > 0);
  if (parts.length === 0)
    throw new UsageError(`${flag} is empty: give comma-separated token ids, e.g. ${flag} 1,2,3`);
  return parts.map((p) => {
    const id = Number(p);
    if (!Number.isInteger(id) || id < 0)
      throw new UsageError(`${flag}: "${p}" is not a non-negative integer token id`);
    return id;
  });
}

/** Parses a number flag within [min, max]. */
export function parseNumber(text: string, flag: string, min: number, max: number, integer = false): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value < min || value > max || (integer && !Number.isInteger(value))) {
    throw new UsageError(
      `${flag}: "${text}" must be ${integer ? 'an integer' : 'a number'} in [${min}, ${max}]`,
    );
  }
  return value;
}

/** Checks a choice flag. */
export function parseChoice<T extends string>(text: string, flag: string, choices: readonly T[]): T {
  if (!choices.includes(text as T))
    throw new UsageError(`${flag}: "${text}" must be one of ${choices.join(', ')}`);
  return text as T;
}
