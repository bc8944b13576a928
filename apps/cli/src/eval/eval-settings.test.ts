import { describe, expect, it } from 'vitest';
import { expandSettings, rowKeys } from './eval-settings.js';

describe('expandSettings', () => {
  it('one dense row, then selectors x top-k, policies for the indexer only', () => {
    const settings = expandSettings(
      ['sparse', 'dense'],
      ['indexer', 'window'],
      [16, 32],
      [{ kind: 'fixed' }, { kind: 'mass', p: 0.9 }],
    );
    expect(settings.map((s) => Object.values(rowKeys(s)).join(' '))).toEqual([
      'dense   ',
      'sparse indexer 16 fixed',
      'sparse indexer 16 mass:0.9',
      'sparse indexer 32 fixed',
      'sparse indexer 32 mass:0.9',
      'sparse window 16 fixed',
      'sparse window 32 fixed',
    ]);
  });
  it('only dense when sparse is not asked', () => {
    expect(expandSettings(['dense'], ['indexer'], [8], [{ kind: 'fixed' }])).toHaveLength(1);
  });
});
