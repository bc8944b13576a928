import fs from 'node:fs';

/** Where {@link PeakRss} reads and resets the high-water mark (Linux procfs); tests point it at fake files. */
export interface RssSources {
  /** `/proc/self/status`, whose `VmHWM:` line is the peak resident set in kB. */
  readonly statusFile: string;
  /** `/proc/self/clear_refs`: writing `5` resets the peak to the current resident set (Linux 4.0 on). */
  readonly clearRefsFile: string;
}

const LINUX: RssSources = { statusFile: '/proc/self/status', clearRefsFile: '/proc/self/clear_refs' };

/** The `VmHWM:` figure of a `/proc/<pid>/status` text in bytes; null when the line is missing or malformed. */
export function parseVmHwm(status: string): number | null {
  const match = /^VmHWM:\s*(\d+)\s*kB\s*$/m.exec(status);
  return match ? Number(match[1]) * 1024 : null;
}

/**
 * The process's peak resident set over the measurements, leaving out buffers a bandwidth probe maps and frees
 * between them: before a probe, {@link beforeProbe} folds the peak so far into the figure; after it,
 * {@link afterProbe} resets the kernel's high-water mark (`/proc/self/clear_refs`), so that the probe's buffer
 * never counts. Where the mark cannot be reset (not Linux, or procfs read-only), {@link resettable} is false and
 * the figure is `process.resourceUsage().maxRSS`, which then includes any probe run so far.
 */
export class PeakRss {
  private folded = 0;
  private readonly canReset: boolean;

  constructor(private readonly sources: RssSources = LINUX) {
    this.canReset = this.hwm() !== null && this.reset();
  }

  /** Whether probes can be left out of the figure (the high-water mark was read and reset once). */
  get resettable(): boolean {
    return this.canReset;
  }

  /**
   * The peak resident set in bytes since this object was made: where resettable, making it resets the mark, so
   * what ran before (the bench's generating a preset checkpoint) does not count; else the process's since it started.
   */
  bytes(): number {
    const now = this.canReset ? (this.hwm() ?? 0) : process.resourceUsage().maxRSS * 1024;
    return Math.max(this.folded, now);
  }

  /** Call right before a probe maps its buffer. */
  beforeProbe(): void {
    this.folded = this.bytes();
  }

  /** Call right after the probe freed its buffer: the high-water mark restarts from the current resident set. */
  afterProbe(): void {
    if (this.canReset) this.reset();
  }

  private hwm(): number | null {
    try {
      return parseVmHwm(fs.readFileSync(this.sources.statusFile, 'utf8'));
    } catch {
      return null;
    }
  }

  private reset(): boolean {
    try {
      fs.writeFileSync(this.sources.clearRefsFile, '5');
      return true;
    } catch {
      return false;
    }
  }
}
