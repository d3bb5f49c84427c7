// Types for the relaxed-SIMD build's glue: the same module interface as the one-thread build.
export * from './longseq.mjs';
export { default } from './longseq.mjs';
