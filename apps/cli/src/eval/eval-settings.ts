import { type AttentionMode, formatTopkPolicy, type Selector, type TopkPolicy } from '@dsa/runtime';

/** One evaluated configuration: dense attention, or a selector at a top-k under a policy. */
export interface EvalSetting {
  readonly attention: AttentionMode;
  /** null for dense attention. */
  readonly selector: Selector | null;
  /** null for dense attention. */
  readonly topk: number | null;
  /** null for dense attention; `fixed` for the control selectors. */
  readonly policy: TopkPolicy | null;
}

/** One line of `dsa eval --json` (stable keys). */
export interface EvalRow {
  readonly task: 'recall' | 'perplexity';
  readonly attention: AttentionMode;
  readonly selector: Selector | null;
  readonly topk: number | null;
  readonly topk_policy: string | null;
  /** L of the recall data, or the perplexity window. */
  readonly context: number;
  readonly metric: 'accuracy' | 'perplexity';
  readonly value: number;
  /** Share of the dense attention mass on the selected positions (null for dense rows). */
  readonly indexer_recall: number | null;
  /** Mean positions attended per scored query and layer. */
  readonly attended_tokens_mean: number;
  /** Scored answers (recall) or tokens (perplexity). */
  readonly n: number;
}

/**
 * The settings grid: one dense row when asked, then every selector × top-k for sparse attention, the
 * indexer additionally under every policy (the controls only under `fixed`: policies read index scores).
 */
export function expandSettings(
  attention: readonly AttentionMode[],
  selectors: readonly Selector[],
  topks: readonly number[],
  policies: readonly TopkPolicy[],
): EvalSetting[] {
  const out: EvalSetting[] = [];
  if (attention.includes('dense')) out.push({ attention: 'dense', selector: null, topk: null, policy: null });
  if (!attention.includes('sparse')) return out;
  for (const selector of selectors) {
    for (const topk of topks) {
      const own = selector === 'indexer' ? policies : policies.filter((p) => p.kind === 'fixed');
      for (const policy of own.length ? own : [{ kind: 'fixed' } as const]) {
        out.push({ attention: 'sparse', selector, topk, policy });
      }
    }
  }
  return out;
}

/** The row's fixed part for a setting. */
export function rowKeys(setting: EvalSetting) {
  return {
    attention: setting.attention,
    selector: setting.selector,
    topk: setting.topk,
    topk_policy: setting.policy ? formatTopkPolicy(setting.policy) : null,
  };
}
