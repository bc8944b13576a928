// The read-bandwidth probes of `dsa bench`: their sizes, and the roofline of steps timed between probes.
import { stats } from './metrics.js';

/** Bytes the end probe reads (`--probe end`), and a turn's where no last-level cache figure is known: 1 GiB, larger than any LLC. */
export const PROBE_BYTES = 2 ** 30;
/** The smallest probe between turns (`--probe turns`): it reads max(4 × the last-level cache, this). */
const TURN_PROBE_MIN_BYTES = 256 * 2 ** 20;

/** Bytes of a `--probe turns` probe: enough to stream from memory past a last-level cache of `llc` bytes. */
export function turnProbeBytes(llc: number | null): number {
  return llc === null ? PROBE_BYTES : Math.max(4 * llc, TURN_PROBE_MIN_BYTES);
}

/**
 * roofline_fraction and the bandwidth figures of one run under `--probe turns`: turn i's steps (`times` from
 * turn.from to turn.to) ran between probes[i] and probes[i + 1]; its fraction is bytes_per_token · batch over its
 * median step, against the mean of those two probes. Returns the median fraction, the median turn bandwidth,
 * and the range of the probes.
 */
export function turnRoofline(
  times: readonly number[],
  turns: readonly { from: number; to: number }[],
  probes: readonly number[],
  bytesPerStep: number,
): { fraction: number; gbs: number; min: number; max: number } {
  const fractions: number[] = [];
  const bandwidths: number[] = [];
  const used: number[] = [];
  turns.forEach((turn, i) => {
    const before = probes[i]!;
    const after = probes[i + 1]!;
    const gbs = (before + after) / 2;
    const ms = stats(times.slice(turn.from, turn.to)).median;
    fractions.push(bytesPerStep / (ms / 1000) / (gbs * 1e9));
    bandwidths.push(gbs);
    used.push(before, after);
  });
  return {
    fraction: stats(fractions).median,
    gbs: stats(bandwidths).median,
    min: Math.min(...used),
    max: Math.max(...used),
  };
}
