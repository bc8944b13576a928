import { describe, expect, it } from 'vitest';
import { runtimeSettings } from './runtime-settings.js';

describe('runtime settings', () => {
  it('allow graphs unless DSA_GRAPHS=0, and name a bad value', () => {
    expect(runtimeSettings({})).toEqual({ graphs: true });
    expect(runtimeSettings({ DSA_GRAPHS: '0' })).toEqual({ graphs: false });
    expect(runtimeSettings({ DSA_GRAPHS: '1' })).toEqual({ graphs: true });
    expect(() => runtimeSettings({ DSA_GRAPHS: 'off' })).toThrow('DSA_GRAPHS: "off" is not 1 or 0');
  });
});
