/**
 * Golden cases (DESIGN §4): ../shared/golden/<op>-<case>.safetensors, or $LONGSEQ_GOLDEN. Inputs are named as
 * the API's params, expected outputs `expect.<output>`, and `__metadata__.params` holds the options as JSON.
 * One helper runs any case on any backend.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readSafetensors, type LongSeq, type Tensor } from '../../ts/index.node.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The golden folder, or undefined when this clone has none (the golden tests then report as skipped). */
export const goldenDir: string | undefined = [process.env.LONGSEQ_GOLDEN, join(repoRoot, '..', 'shared', 'golden')]
  .filter((d): d is string => !!d)
  .find((d) => existsSync(d));

export interface GoldenCase {
  name: string;
  op: string;
  params: Record<string, unknown>;
  /** Extra options a test adds (e.g. the algorithm), not part of the file. */
  options?: Record<string, unknown>;
  inputs: Record<string, Tensor>;
  expected: Record<string, Tensor>;
}

/** The names of the cases of `op` (e.g. 'selectiveScan' matches selectiveScan-*.safetensors only). */
export function goldenCases(op: string): string[] {
  if (!goldenDir) return [];
  return readdirSync(goldenDir)
    .filter((f) => f.startsWith(`${op}-`) && f.endsWith('.safetensors'))
    .map((f) => f.slice(0, -'.safetensors'.length))
    .sort();
}

export function loadGolden(name: string): GoldenCase {
  const file = readSafetensors(readFileSync(join(goldenDir!, `${name}.safetensors`)));
  const inputs: Record<string, Tensor> = {};
  const expected: Record<string, Tensor> = {};
  for (const key of file.entries.keys()) {
    if (key.startsWith('expect.')) expected[key.slice('expect.'.length)] = file.tensor(key);
    else inputs[key] = file.tensor(key);
  }
  return { name, op: file.metadata.op!, params: JSON.parse(file.metadata.params ?? '{}'), inputs, expected };
}

type Runner = (ls: LongSeq, c: GoldenCase) => Promise<Record<string, Tensor | undefined>>;

/** How to run each op's cases; the outputs are keyed like the case's `expect.*` tensors. */
const RUNNERS: Record<string, Runner> = {
  selectiveScan: (ls, c) =>
    ls.selectiveScan({ ...c.inputs, ...c.params, returnFinalState: 'finalState' in c.expected } as never) as never,
  selectiveScanStep: async (ls, c) => {
    const { y } = await ls.selectiveScanStep({ ...c.inputs, ...c.params } as never);
    return { y, state: c.inputs.state };
  },
  deltaRule: (ls, c) =>
    ls.deltaRule({ ...c.inputs, ...c.params, ...c.options, returnFinalState: 'finalState' in c.expected } as never) as never,
  causalConv1d: (ls, c) =>
    ls.causalConv1d({ ...c.inputs, ...c.params, returnFinalState: 'finalState' in c.expected } as never) as never,
  fftConv: (ls, c) => ls.fftConv({ ...c.inputs, ...c.params, ...c.options } as never),
  deltaRuleStep: async (ls, c) => {
    const { o } = await ls.deltaRuleStep({ ...c.inputs, ...c.params } as never);
    return { o, state: c.inputs.state };
  },
};

export function runGolden(ls: LongSeq, c: GoldenCase): Promise<Record<string, Tensor | undefined>> {
  const runner = RUNNERS[c.op];
  if (!runner) throw new Error(`no golden runner for op ${c.op}`);
  return runner(ls, c);
}
