import { describe, expect, it } from 'vitest';
import { StopStringMatcher } from './stop-strings.js';

describe('StopStringMatcher', () => {
  it('holds back a possible stop prefix and cuts before the match', () => {
    const m = new StopStringMatcher(['</end>', 'STOP']);
    // the longest stop string has 6 characters, so 5 are held back until they cannot start one
    expect(m.push('hello ')).toBe('h');
    expect(m.push('wor')).toBe('ell');
    expect(m.push('ld </e')).toBe('o worl');
    expect(m.push('nd> more')).toBe('d ');
    expect(m.stopped).toBe(true);
    expect(m.push('ignored')).toBe('');
    expect(m.flush()).toBe('');
  });

  it('flushes held text when no stop string appears', () => {
    const m = new StopStringMatcher(['xyz']);
    expect(m.push('abxy')).toBe('ab');
    expect(m.flush()).toBe('xy');
  });
});
