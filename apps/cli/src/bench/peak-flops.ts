import fs from 'node:fs';
import type { BackendDiagnostics } from '@dsa/backend';
import { cliSetting } from '../cli-settings.js';

/** The machine's peak f32 FMA rate for the cpu backend's kernel set, and how it was found. */
export interface PeakFlops {
  /** cores · GHz · FMA lanes · 2 · FMA units, in GFLOP/s. */
  readonly gflops: number;
  /** The factors, for the docs and the table. */
  readonly formula: string;
}

/** f32 lanes of one FMA instruction per kernel set of the cpu backend (its `isaName` or setting name). */
const LANES: Record<string, number> = { 'AVX-512': 16, avx512: 16, AVX2: 8, avx2: 8, portable: 1 };

/**
 * Peak f32 GFLOP/s of `cores` cores running the `isa` kernel set: cores × GHz × lanes × 2 (an FMA is
 * two FLOPs) × FMA units per core. GHz is the highest "cpu MHz" in /proc/cpuinfo (the current clock,
 * which is the nominal one on VMs; `DSA_BENCH_CPU_GHZ` overrides it); FMA units are 2 on every
 * AVX-512 and AVX2 server core since Skylake-SP/Haswell (`DSA_BENCH_FMA_UNITS` overrides it). Null when
 * the clock is unknown (no /proc/cpuinfo) or the kernel set is not a cpu one.
 */
export function peakFlops(isa: string, cores: number): PeakFlops | null {
  return formulaPeak(isa, cores);
}

/**
 * The peak a backend measures ({@link BackendDiagnostics.fmaPeak}: its widest FMA on its threads), else
 * {@link peakFlops}'s formula. `DSA_BENCH_CPU_GHZ` / `DSA_BENCH_FMA_UNITS` ask for the formula.
 */
export function backendPeakFlops(backend: Pick<BackendDiagnostics, 'fmaPeak' | 'compute'>): PeakFlops | null {
  const formulaAsked = cliSetting('benchCpuGhz') !== undefined || cliSetting('benchFmaUnits') !== undefined;
  if (backend.fmaPeak && !formulaAsked) {
    const gflops = backend.fmaPeak();
    const threads = backend.compute?.threads;
    return {
      gflops,
      formula: `measured: ${threads ?? '?'} threads × independent ${backend.compute?.isa ?? ''} FMA chains, best of 3`,
    };
  }
  return backend.compute ? peakFlops(backend.compute.isa, backend.compute.threads) : null;
}

function formulaPeak(isa: string, cores: number): PeakFlops | null {
  const lanes = LANES[isa];
  if (lanes === undefined) return null;
  let ghz = cliSetting('benchCpuGhz') ?? Number.NaN;
  if (!(ghz > 0)) {
    try {
      const mhz = [...fs.readFileSync('/proc/cpuinfo', 'utf8').matchAll(/^cpu MHz\s*:\s*([\d.]+)/gm)].map(
        (m) => Number(m[1]),
      );
      ghz = mhz.length ? Math.max(...mhz) / 1000 : Number.NaN;
    } catch {
      return null;
    }
  }
  if (!(ghz > 0)) return null;
  const units = cliSetting('benchFmaUnits') ?? (isa === 'portable' ? 1 : 2);
  return {
    gflops: cores * ghz * lanes * 2 * units,
    formula: `${cores} cores × ${ghz.toFixed(2)} GHz × ${lanes} lanes × 2 × ${units} FMA units`,
  };
}
