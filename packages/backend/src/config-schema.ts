import { createRequire } from 'node:module';
import { Ajv, type ErrorObject } from 'ajv';
import { closestNames } from './closest-names.js';
import { ConfigFileError } from './errors/config-file-error.js';

/** The JSON Schema of `dsa.config.json`, as published at `@dsa/backend/dsa.config.schema.json`. */
export const CONFIG_SCHEMA = createRequire(import.meta.url)('../dsa.config.schema.json') as {
  readonly properties: Readonly<Record<string, { readonly description: string }>>;
};

let validate: ReturnType<Ajv['compile']> | undefined;

/** `"threads"` for the instance path `/threads`, `"settings.a"` for `/settings/a`. */
function fieldOf(error: ErrorObject): string {
  return error.instancePath.slice(1).split('/').join('.');
}

function valueAt(json: unknown, field: string): unknown {
  let value = json;
  for (const key of field ? field.split('.') : []) value = (value as Record<string, unknown>)[key];
  return value;
}

const ARTICLE: Record<string, string> = {
  string: 'a string',
  integer: 'an integer',
  number: 'a number',
  object: 'a JSON object',
  boolean: 'true or false',
  array: 'an array',
};

/** One schema violation as a sentence that names the key, the value and the fix. */
function describe(error: ErrorObject, json: unknown, file: string): ConfigFileError {
  if (error.keyword === 'additionalProperties') {
    const key = (error.params as { additionalProperty: string }).additionalProperty;
    const valid = Object.keys(CONFIG_SCHEMA.properties);
    const [closest] = closestNames(key, valid, 1);
    const hint = closest ? `did you mean "${closest}"? ` : '';
    return new ConfigFileError(file, `unknown key "${key}" (${hint}valid keys: ${valid.join(', ')})`, {
      field: key,
      value: (json as Record<string, unknown>)[key],
    });
  }
  const field = fieldOf(error);
  const value = valueAt(json, field);
  const got = `got ${JSON.stringify(value)}`;
  if (!field) return new ConfigFileError(file, `expected a JSON object like {"backend": "cpu"}, ${got}`);
  const description = CONFIG_SCHEMA.properties[field]?.description;
  let rule: string;
  if (error.keyword === 'type')
    rule = `must be ${ARTICLE[(error.params as { type: string }).type] ?? error.message}`;
  else if (error.keyword === 'pattern') rule = `is not valid: ${description ?? error.message}`;
  else rule = error.message ?? error.keyword;
  return new ConfigFileError(file, `field "${field}" ${rule} (${got})`, { field, value });
}

/**
 * Checks parsed `dsa.config.json` content against its JSON Schema (`@dsa/backend/dsa.config.schema.json`, validated by Ajv). Throws a
 * {@link ConfigFileError} for the first violation; an unknown key is reported with the closest valid one.
 */
export function checkConfig(json: unknown, file: string): void {
  validate ??= new Ajv({ allErrors: true, strict: true }).compile(CONFIG_SCHEMA);
  if (validate(json)) return;
  const errors = validate.errors ?? [];
  // Unknown keys first: a misspelt key is the likeliest mistake, and its type errors follow from it.
  const first = errors.find((e) => e.keyword === 'additionalProperties') ?? errors[0]!;
  throw describe(first, json, file);
}
