import { BackendUnavailableError } from '@dsa/backend';
import { afterEach, describe, expect, it } from 'vitest';
import ascendBackendFactory from './index.js';
import { candidateDirectories, findAscendLibraries } from './library-paths.js';

const saved = { ...process.env };
afterEach(() => {
  process.env = { ...saved };
});

describe('the ascend factory without CANN', () => {
  it('probe() scores 0 and names the library, the folders searched and how to point at an install', async () => {
    process.env.DSA_ASCEND_LIB_DIR = '/nonexistent/cann/lib64';
    delete process.env.ASCEND_HOME_PATH;
    delete process.env.ASCEND_TOOLKIT_HOME;
    const { score, reason } = await ascendBackendFactory.probe();
    expect(score).toBe(0);
    expect(reason).toContain('libascendcl.so');
    expect(reason).toContain('/nonexistent/cann/lib64');
    expect(reason).toContain('/usr/local/Ascend/ascend-toolkit/latest/lib64');
    expect(reason).toMatch(/ASCEND_HOME_PATH/);
    expect(reason).toMatch(/DSA_ASCEND_LIB_DIR/);
  });

  it('create() rejects with BackendUnavailableError carrying that reason', async () => {
    process.env.DSA_ASCEND_LIB_DIR = '/nonexistent/cann/lib64';
    delete process.env.ASCEND_HOME_PATH;
    await expect(ascendBackendFactory.create()).rejects.toBeInstanceOf(BackendUnavailableError);
    await expect(ascendBackendFactory.create()).rejects.toThrow(
      /libascendcl\.so .*not found; looked in \/nonexistent/,
    );
  });

  it('searches DSA_ASCEND_LIB_DIR first, then ASCEND_HOME_PATH/lib64 and <arch>-linux/lib64', () => {
    const dirs = candidateDirectories({ DSA_ASCEND_LIB_DIR: '/a', ASCEND_HOME_PATH: '/h' });
    expect(dirs[0]).toBe('/a');
    expect(dirs[1]).toBe('/h/lib64');
    expect(dirs[2]).toMatch(/^\/h\/(x86_64|aarch64)-linux\/lib64$/);
    expect(findAscendLibraries({ DSA_ASCEND_LIB_DIR: '/a' }).found).toBe(false);
  });
});
