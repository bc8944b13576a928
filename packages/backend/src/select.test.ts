import { afterEach, describe, expect, it } from 'vitest';
import { type Backend, type BackendFactory, SPECIFICATION_VERSION } from './backend.js';
import { createBackend, listBackends, loadBackendFactory, parseBackendSpec } from './select.js';

function fakeFactory(name: BackendFactory['name'], score: number, reason = 'fake'): BackendFactory {
  return {
    name,
    specificationVersion: SPECIFICATION_VERSION,
    probe: async () => ({ score, reason }),
    create: async (options) => ({ name, options }) as unknown as Backend,
  };
}

describe('backend selection', () => {
  afterEach(() => {
    delete process.env.DSA_BACKEND;
  });

  it('parses names and device indices, rejecting unknown ones with the choices', () => {
    expect(parseBackendSpec('auto')).toEqual({ name: 'auto' });
    expect(parseBackendSpec('cuda:1')).toEqual({ name: 'cuda', deviceIndex: 1 });
    expect(() => parseBackendSpec('tpu')).toThrow(
      /unknown backend "tpu": expected auto, cuda, ascend, cpu, reference/,
    );
    expect(() => parseBackendSpec('cuda:x')).toThrow(/device index "x"/);
  });

  it('auto picks the highest probe score and says why', async () => {
    const lines: string[] = [];
    const backend = await createBackend({
      factories: [
        fakeFactory('cpu', 10),
        fakeFactory('cuda', 0, 'no driver: libcuda.so.1 not found'),
        fakeFactory('reference', 1),
      ],
      log: (l) => lines.push(l),
    });
    expect(backend.name).toBe('cpu');
    expect(lines.join('\n')).toContain('backend cuda: score 0 (no driver: libcuda.so.1 not found)');
    expect(lines.join('\n')).toContain('picked cpu');
  });

  it('DSA_BACKEND overrides the option, and passes the device index', async () => {
    process.env.DSA_BACKEND = 'cuda:2';
    const backend = (await createBackend({
      backend: 'cpu',
      factories: [fakeFactory('cuda', 5), fakeFactory('cpu', 10)],
    })) as unknown as {
      name: string;
      options: { deviceIndex: number };
    };
    expect(backend.name).toBe('cuda');
    expect(backend.options.deviceIndex).toBe(2);
  });

  it('a named backend that cannot run fails with its probe reason', async () => {
    await expect(
      createBackend({ backend: 'cuda', factories: [fakeFactory('cuda', 0, 'no NVIDIA driver')] }),
    ).rejects.toThrow(/backend "cuda" cannot run here: no NVIDIA driver/);
  });

  it('a backend that is not installed fails with how to install it', async () => {
    // Every backend package is in this workspace, so look only in an empty folder.
    const os = await import('node:os');
    const { reason, factory } = await loadBackendFactory('ascend', [os.tmpdir()], { onlySearchPaths: true });
    expect(factory).toBeUndefined();
    expect(reason).toMatch(/@dsa\/backend-ascend is not installed \(npm install @dsa\/backend-ascend/);
  });

  it('reads the backend from a config file, below DSA_BACKEND and the options', async () => {
    const fs = await import('node:fs');
    const os = await import('node:os');
    const path = await import('node:path');
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'dsa-config-')), 'dsa.config.json');
    fs.writeFileSync(file, JSON.stringify({ backend: 'cpu', threads: 3 }));
    const factories = [fakeFactory('cpu', 10), fakeFactory('reference', 1)];
    const fromFile = (await createBackend({ configFile: file, factories })) as unknown as {
      name: string;
      options: { threads: number };
    };
    expect(fromFile).toMatchObject({ name: 'cpu', options: { threads: 3 } });
    expect((await createBackend({ configFile: file, backend: 'reference', factories })).name).toBe(
      'reference',
    );
    fs.writeFileSync(file, JSON.stringify({ backend: 7 }));
    await expect(createBackend({ configFile: file, factories })).rejects.toThrow(
      /field "backend" must be a string/,
    );
  });

  it('lists every backend for `dsa inspect --backends`', async () => {
    const reports = await listBackends({ factories: [fakeFactory('reference', 1)] });
    expect(reports.map((r) => r.name)).toEqual(['cuda', 'ascend', 'cpu', 'reference']);
    expect(reports.find((r) => r.name === 'reference')).toMatchObject({ installed: true, score: 1 });
  });
});
