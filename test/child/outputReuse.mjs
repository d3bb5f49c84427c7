// Large outputs of the native backend (4 MiB and more) reuse the memory of collected ones (native/addon/marshal.cc's
// OutputPool): calls of three output sizes in turn, each followed by gc so that the previous output's memory goes back
// to the pool, each result compared with the first call's of its size; then the growth of the resident memory over a
// second round of the same calls. Run with --expose-gc. Usage: node --expose-gc test/child/outputReuse.mjs <rounds>
// Prints one JSON line: { mismatches, calls, growthMiB }.
import { init, tensor } from '../../dist/index.node.js';

const rounds = Number(process.argv[2] ?? 8);
const t = (shape) => tensor(Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => ((i * 0.618) % 1) - 0.5), shape);
const ls = await init({ backend: 'native' });
const x = t([256, 64]);
// y [256, out]: 8, 12 and 16 MiB, whole huge pages apart.
const weights = [8192, 12288, 16384].map((out) => t([out, 64]));
const first = new Map();
let mismatches = 0;
let calls = 0;
async function round() {
  for (const weight of weights) {
    const { y } = await ls.linear({ x, weight });
    const want = first.get(weight) ?? first.set(weight, y.data.slice()).get(weight);
    for (let i = 0; i < want.length; i++) if (!(y.data[i] === want[i])) { mismatches++; break; }
    calls++;
    globalThis.gc();
  }
}
const rss = () => {
  globalThis.gc();
  return process.memoryUsage().rss / 2 ** 20;
};
for (let r = 0; r < rounds; r++) await round();
const before = rss();
for (let r = 0; r < rounds; r++) await round();
console.log(JSON.stringify({ mismatches, calls, growthMiB: Number((rss() - before).toFixed(1)) }));
