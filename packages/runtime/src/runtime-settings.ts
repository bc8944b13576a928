import { readSettings, type SettingsOf } from '@dsa/backend';

/** The environment overrides the runtime reads (the only environment variables of `@dsa/runtime`). */
export const RUNTIME_SETTING_SPECS = {
  /**
   * Whether decode steps may be captured as graphs (`DSA_GRAPHS=0` turns capture off for every backend;
   * the one graph switch, with `DeepseekModel.load(…, { graphs: false })`).
   */
  graphs: { kind: 'flag', env: 'DSA_GRAPHS' },
} as const;

/** The runtime's environment settings (see {@link RUNTIME_SETTING_SPECS}). */
export type RuntimeSettings = Required<SettingsOf<typeof RUNTIME_SETTING_SPECS>>;

/**
 * Reads the runtime's environment settings (`DSA_GRAPHS`) when called, so a change of the environment
 * is seen by the next model load. A bad value throws `InvalidSettingError` naming the variable.
 */
export function runtimeSettings(
  environment: Readonly<Record<string, string | undefined>> = process.env,
): RuntimeSettings {
  return { graphs: true, ...readSettings(RUNTIME_SETTING_SPECS, {}, environment) };
}
