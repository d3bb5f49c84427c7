// A Mamba-1 selective scan, then streaming decode steps from its final state.
// Run after `npm run build`:  node examples/quickstart.mjs
import { init, available, tensor } from 'longseq';

const ls = await init(); // the best backend here: native > wasm > js
console.log(`backend: ${ls.backend} (${ls.description})`);
console.log((await available()).map((b) => `${b.name}: ${b.available ? 'yes' : `no, ${b.reason}`}`).join('\n'));

const [B, D, N, L] = [1, 64, 16, 256];
const rand = (n, lo = -1, hi = 1) => Float32Array.from({ length: n }, () => lo + (hi - lo) * Math.random());

const { y, finalState } = await ls.selectiveScan({
  u: tensor(rand(B * D * L), [B, D, L]),
  delta: tensor(rand(B * D * L), [B, D, L]),
  A: tensor(rand(D * N, -4, -0.5), [D, N]), // negative: a decaying state
  B: tensor(rand(B * N * L), [B, N, L]),
  C: tensor(rand(B * N * L), [B, N, L]),
  D: tensor(rand(D), [D]),
  z: tensor(rand(B * D * L), [B, D, L]),
  deltaBias: tensor(rand(D), [D]),
  deltaSoftplus: true,
  returnFinalState: true,
});
console.log(`y: [${y.shape}], finalState: [${finalState.shape}]`);

// Decode: one token at a time, updating finalState in place.
for (let t = 0; t < 3; t++) {
  const { y: yt } = await ls.selectiveScanStep({
    state: finalState,
    x: tensor(rand(B * D), [B, D]),
    delta: tensor(rand(B * D), [B, D]),
    A: tensor(rand(D * N, -4, -0.5), [D, N]),
    B: tensor(rand(B * N), [B, N]),
    C: tensor(rand(B * N), [B, N]),
    deltaSoftplus: true,
  });
  console.log(`step ${t}: y[0..3] = ${Array.from(yt.data.subarray(0, 3), (v) => v.toFixed(4)).join(', ')}`);
}
