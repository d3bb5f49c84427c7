// What every Node test project shares (vitest.config.ts, and vitest.cuda.config.ts, which must not load the browser
// toolchain that vitest.config.ts imports).

// Every output element must be written (DESIGN.md §4): the native addon and the wasm backend fill each output with NaN
// before the kernel runs when this is set, so an element a kernel leaves unwritten fails the comparisons instead of
// passing as the zeros of fresh memory (or as what reused memory held before).
export const POISON = { LONGSEQ_POISON_OUTPUTS: '1' };

/** The environment and time limits of a Node test project. */
export const nodeProject = {
  environment: 'node' as const,
  env: POISON,
  testTimeout: 120_000,
  hookTimeout: 120_000,
};
