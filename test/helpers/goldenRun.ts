/**
 * Running a golden case on a backend: no file system here, so the browser tests share it with the Node ones.
 */
import type { LongSeq, SafetensorsFile, Tensor } from '../../ts/index.js';

export interface GoldenCase {
  name: string;
  op: string;
  params: Record<string, unknown>;
  /** Extra options a test adds (e.g. the algorithm), not part of the file. */
  options?: Record<string, unknown>;
  inputs: Record<string, Tensor>;
  expected: Record<string, Tensor>;
}

/** A golden file's tensors split into inputs and `expect.*` outputs. */
export function caseFromFile(name: string, file: SafetensorsFile): GoldenCase {
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
  fftConv: (ls, c) => ls.fftConv({ ...c.inputs, ...c.params, ...c.options } as never) as never,
  ssdScan: (ls, c) =>
    ls.ssdScan({ ...c.inputs, ...c.params, ...c.options, returnFinalState: 'finalState' in c.expected } as never) as never,
  deltaRuleStep: async (ls, c) => {
    const { o } = await ls.deltaRuleStep({ ...c.inputs, ...c.params } as never);
    return { o, state: c.inputs.state };
  },
};

/** The ops that have golden runners (ssdScan's cases wait for the op). */
export const GOLDEN_OPS = Object.keys(RUNNERS);

export function runGolden(ls: LongSeq, c: GoldenCase): Promise<Record<string, Tensor | undefined>> {
  const runner = RUNNERS[c.op];
  if (!runner) throw new Error(`no golden runner for op ${c.op}`);
  return runner(ls, c);
}
