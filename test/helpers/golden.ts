/**
 * Golden cases (DESIGN §4): ../shared/golden/<op>-<case>.safetensors, or $LONGSEQ_GOLDEN. Inputs are named as
 * the API's params, expected outputs `expect.<output>`, and `__metadata__.params` holds the options as JSON.
 * One helper runs any case on any backend.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readSafetensors } from '../../ts/index.node.js';
import { caseFromFile, type GoldenCase } from './goldenRun.js';

export { runGolden, type GoldenCase } from './goldenRun.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The golden folder, or undefined when this clone has none (the golden tests then report as skipped). */
export const goldenDir: string | undefined = [process.env.LONGSEQ_GOLDEN, join(repoRoot, '..', 'shared', 'golden')]
  .filter((d): d is string => !!d)
  .find((d) => existsSync(d));

/** The names of the cases of `op` (e.g. 'selectiveScan' matches selectiveScan-*.safetensors only). */
export function goldenCases(op: string): string[] {
  if (!goldenDir) return [];
  return readdirSync(goldenDir)
    .filter((f) => f.startsWith(`${op}-`) && f.endsWith('.safetensors'))
    .map((f) => f.slice(0, -'.safetensors'.length))
    .sort();
}

export function loadGolden(name: string): GoldenCase {
  return caseFromFile(name, readSafetensors(readFileSync(join(goldenDir!, `${name}.safetensors`))));
}
