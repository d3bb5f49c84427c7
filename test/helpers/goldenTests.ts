/** The golden tests every op file runs, in one place. */
import { expect, test } from 'vitest';
import { backend, title, type TestBackend } from './backends.js';
import { expectClose } from './compare.js';
import { goldenCases, goldenDir, loadGolden, runGolden } from './golden.js';

/** DESIGN §4's tolerance for float32 outputs against the float64 references. */
const GOLDEN_TOLERANCE = 1e-4;

/** A top-level test that the golden folder, when present, has cases of `op`. */
export function goldenFolderHasCases(op: string): void {
  test.skipIf(!goldenDir)(`the golden folder has ${op} cases`, () => {
    expect(goldenCases(op).length).toBeGreaterThan(0);
  });
}

/**
 * Inside a per-backend describe: one test per golden case of `op` and per option set (e.g. each algorithm);
 * skipped, saying why, when the backend is unavailable or there is no golden folder.
 */
export function goldenTests(op: string, b: TestBackend, optionSets: Record<string, unknown>[] = [{}]): void {
  if (!goldenDir) {
    test.skip('golden cases: no golden folder here (set LONGSEQ_GOLDEN)', () => {});
    return;
  }
  const run = b.available ? test : test.skip;
  for (const options of optionSets) {
    const label = Object.values(options).join(', ');
    run.each(goldenCases(op))(`golden %s${label ? `, ${label}` : ''} (${title(b)})`, async (name) => {
      const c = { ...loadGolden(name), options };
      const out = await runGolden(await backend(b.name), c);
      for (const [key, ref] of Object.entries(c.expected)) {
        expectClose(`${name} ${key}`, out[key], ref, GOLDEN_TOLERANCE);
      }
    });
  }
}
