import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { PeakRss, parseVmHwm } from './peak-rss.js';

const roots: string[] = [];
afterEach(() => {
  for (const root of roots.splice(0)) fs.rmSync(root, { recursive: true, force: true });
});

/** A fake status file reporting `kb` as VmHWM, and a clear_refs file that records what was written to it. */
function fakeProc(kb: number) {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'dsa-rss-'));
  roots.push(root);
  const statusFile = path.join(root, 'status');
  const clearRefsFile = path.join(root, 'clear_refs');
  const setHwm = (value: number) =>
    fs.writeFileSync(statusFile, `Name:\tnode\nVmPeak:\t 9999999 kB\nVmHWM:\t ${value} kB\nVmRSS:\t 1 kB\n`);
  setHwm(kb);
  return { statusFile, clearRefsFile, setHwm };
}

describe('parseVmHwm', () => {
  it('reads the VmHWM line in bytes, and nothing else', () => {
    expect(parseVmHwm('VmPeak:\t  500 kB\nVmHWM:\t  1234 kB\nVmRSS:\t 99 kB\n')).toBe(1234 * 1024);
    expect(parseVmHwm('VmRSS:\t 99 kB\n')).toBeNull();
    expect(parseVmHwm('VmHWM:\t lots kB\n')).toBeNull();
  });
});

describe('PeakRss', () => {
  it("keeps the measurements' peak and leaves out what a probe mapped between them", () => {
    const proc = fakeProc(1000);
    const rss = new PeakRss(proc);
    expect(rss.resettable).toBe(true);
    expect(fs.readFileSync(proc.clearRefsFile, 'utf8')).toBe('5'); // reset once on construction
    proc.setHwm(5000); // a measurement peaks at 5000 kB
    expect(rss.bytes()).toBe(5000 * 1024);
    rss.beforeProbe();
    fs.rmSync(proc.clearRefsFile);
    proc.setHwm(900_000); // the probe's buffer
    rss.afterProbe(); // the kernel would restart the mark from the resident set:
    expect(fs.readFileSync(proc.clearRefsFile, 'utf8')).toBe('5');
    proc.setHwm(2000);
    expect(rss.bytes()).toBe(5000 * 1024); // the probe's 900 MB are not in it
    proc.setHwm(7000); // a later measurement peaks higher
    expect(rss.bytes()).toBe(7000 * 1024);
  });

  it('falls back to maxRSS where the high-water mark cannot be reset', () => {
    const proc = fakeProc(1000);
    const rss = new PeakRss({
      ...proc,
      clearRefsFile: path.join(proc.clearRefsFile, 'missing', 'clear_refs'),
    });
    expect(rss.resettable).toBe(false);
    expect(rss.bytes()).toBe(process.resourceUsage().maxRSS * 1024);
  });

  it.runIf(process.platform === 'linux')(
    'on Linux, leaves out 256 MB that were mapped and freed before a reset',
    () => {
      // A child maps and touches 256 MB, frees it, resets the mark as afterProbe does, and reports it before and after.
      const script = `
      const fs = require('node:fs');
      const hwm = () => Number(/^VmHWM:\\s*(\\d+)/m.exec(fs.readFileSync('/proc/self/status', 'utf8'))[1]) * 1024;
      let b = new Uint8Array(256 * 2 ** 20).fill(1); b = null; globalThis.gc();
      const before = hwm();
      fs.writeFileSync('/proc/self/clear_refs', '5');
      console.log(JSON.stringify({ before, after: hwm() }));`;
      const { before, after } = JSON.parse(
        execFileSync(process.execPath, ['--expose-gc', '-e', script], { encoding: 'utf8' }),
      );
      expect(before).toBeGreaterThan(256 * 2 ** 20);
      expect(after).toBeLessThan(before - 200 * 2 ** 20);
      expect(new PeakRss().resettable).toBe(true);
    },
  );
});
