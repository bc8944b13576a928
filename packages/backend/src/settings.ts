import { InvalidSettingError } from './errors/invalid-setting-error.js';

/** The environment a settings reader looks at (`process.env`, or a plain object in tests). */
export type Environment = Readonly<Record<string, string | undefined>>;

/** A `true`/`false` setting; its environment variable takes `1`/`0` (or `true`/`false`). */
export interface FlagSettingSpec {
  /** Discriminant. */
  readonly kind: 'flag';
  /** Environment variable that overrides the field when set (non-empty). */
  readonly env?: string;
}

/** A setting that takes one of `values`. */
export interface ChoiceSettingSpec {
  /** Discriminant. */
  readonly kind: 'choice';
  /** The accepted values. */
  readonly values: readonly string[];
  /** Other spellings the environment variable may use, e.g. `{ '0': 'off' }`. */
  readonly aliases?: Readonly<Record<string, string>>;
  /** Environment variable that overrides the field when set (non-empty). */
  readonly env?: string;
}

/** A finite number ≥ `min` (an integer when `integer`). */
export interface NumberSettingSpec {
  /** Discriminant. */
  readonly kind: 'number';
  /** Smallest accepted value. */
  readonly min?: number;
  /** Whether only integers are accepted. */
  readonly integer?: boolean;
  /** Environment variable that overrides the field when set (non-empty). */
  readonly env?: string;
}

/** Any non-empty string (a path, say). */
export interface StringSettingSpec {
  /** Discriminant. */
  readonly kind: 'string';
  /** Environment variable that overrides the field when set (non-empty). */
  readonly env?: string;
}

/** How one setting is spelled and checked: a typed field, optionally overridden by an environment variable. */
export type SettingSpec = FlagSettingSpec | ChoiceSettingSpec | NumberSettingSpec | StringSettingSpec;

/** The value type a {@link SettingSpec} describes. */
export type SettingValue<S extends SettingSpec> = S extends ChoiceSettingSpec
  ? S['values'][number]
  : S['kind'] extends 'flag'
    ? boolean
    : S['kind'] extends 'number'
      ? number
      : string;

/** The settings object a table of {@link SettingSpec}s describes (every field optional). */
export type SettingsOf<T extends Readonly<Record<string, SettingSpec>>> = {
  -readonly [K in keyof T]?: SettingValue<T[K]>;
};

/**
 * Reads a backend's (or package's) settings once: for every field of `specs`, its environment variable
 * when that is set, else the field of `given` (`BackendOptions.settings`, a config file's `settings`),
 * else absent (the caller applies its default). Every value is checked: an unknown field, or a value
 * of the wrong kind, throws {@link InvalidSettingError} naming the variable or field and the value.
 */
export function readSettings<T extends Readonly<Record<string, SettingSpec>>>(
  specs: T,
  given: Readonly<Record<string, unknown>> | undefined,
  environment: Environment,
  passThrough: readonly string[] = [],
): SettingsOf<T> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(given ?? {})) {
    if (!(key in specs) && !passThrough.includes(key)) {
      throw new InvalidSettingError(
        `settings.${key}`,
        `unknown setting; known: ${[...Object.keys(specs), ...passThrough].join(', ')}`,
      );
    }
  }
  for (const [key, spec] of Object.entries(specs)) {
    const text = spec.env ? environment[spec.env] : undefined;
    if (spec.env && text !== undefined && text !== '') out[key] = parseText(spec.env, spec, text);
    else if (given?.[key] !== undefined) out[key] = checkValue(`settings.${key}`, spec, given[key]);
  }
  return out as SettingsOf<T>;
}

function parseText(name: string, spec: SettingSpec, text: string): unknown {
  const value = text.trim();
  switch (spec.kind) {
    case 'flag':
      if (value === '1' || value === 'true') return true;
      if (value === '0' || value === 'false') return false;
      throw new InvalidSettingError(name, `"${text}" is not 1 or 0`);
    case 'number':
      return checkValue(name, spec, Number(value));
    case 'choice':
      return checkValue(name, spec, spec.aliases?.[value] ?? value);
    default:
      return checkValue(name, spec, value);
  }
}

function checkValue(name: string, spec: SettingSpec, value: unknown): unknown {
  switch (spec.kind) {
    case 'flag':
      if (typeof value !== 'boolean')
        throw new InvalidSettingError(name, `${show(value)} is not true or false`);
      return value;
    case 'choice':
      if (typeof value !== 'string' || !spec.values.includes(value))
        throw new InvalidSettingError(name, `${show(value)} is not one of ${spec.values.join(', ')}`);
      return value;
    case 'number': {
      const ok =
        typeof value === 'number' &&
        Number.isFinite(value) &&
        (!spec.integer || Number.isInteger(value)) &&
        value >= (spec.min ?? Number.NEGATIVE_INFINITY);
      if (!ok) {
        const what = spec.integer ? 'an integer' : 'a number';
        const bound = spec.min === undefined ? '' : ` ≥ ${spec.min}`;
        throw new InvalidSettingError(name, `${show(value)} is not ${what}${bound}`);
      }
      return value;
    }
    case 'string':
      if (typeof value !== 'string' || value === '')
        throw new InvalidSettingError(name, `${show(value)} is not a non-empty string`);
      return value;
  }
}

function show(value: unknown): string {
  return typeof value === 'string' ? `"${value}"` : String(JSON.stringify(value) ?? value);
}

/** The environment overrides of backend selection that {@link createBackend} reads. */
export interface SelectionOverrides {
  /** `DSA_BACKEND`: the backend spec, overriding `CreateBackendOptions.backend` and the config file. */
  readonly backend?: string;
  /** `DSA_CONFIG`: the backend config file, used when `CreateBackendOptions.configFile` is not given. */
  readonly configFile?: string;
}

/** Reads `DSA_BACKEND` and `DSA_CONFIG` (the only environment variables `@dsa/backend` reads). */
export function selectionOverrides(environment: Environment = process.env): SelectionOverrides {
  const backend = environment.DSA_BACKEND?.trim();
  const configFile = environment.DSA_CONFIG;
  return { ...(backend ? { backend } : {}), ...(configFile ? { configFile } : {}) };
}
