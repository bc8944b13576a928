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

/** Parses a byte size: `1048576`, `512MB`, `8GiB` (K/M/G/T with B = 1000s, iB = 1024s). */
export function parseBytes(text: string, flag: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?)b?\s*$/i.exec(text);
  if (!match) throw new UsageError(`${flag}: "${text}" is not a size such as 1073741824, 512MB or 8GiB`);
  const power = ['', 'k', 'm', 'g', 't'].indexOf(match[2]!.toLowerCase());
  const bytes = Number(match[1]) * (match[3] ? 1024 : 1000) ** power;
  if (!(bytes >= 1)) throw new UsageError(`${flag}: "${text}" is less than one byte`);
  return Math.floor(bytes);
}

/** Parses a comma-separated list with `item` (e.g. `1024,32768`), refusing an empty list. */
export function parseList<T>(text: string, flag: string, item: (part: string) => T): T[] {
  const parts = text
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p.length > 0);
  if (parts.length === 0) throw new UsageError(`${flag} is empty: give comma-separated values`);
  return parts.map(item);
}
