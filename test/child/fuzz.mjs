// Thousands of malformed calls through the public API, in a process of its own (a crash ends only this process,
// and the parent test sees it). Usage: node test/child/fuzz.mjs <backend> <calls> <seed>
// Prints one JSON line: { calls, rejectedAsExpected, failures: [...first few] }.
import { init, tensor } from '../../dist/index.node.js';

const [backendName, callsArg, seedArg] = process.argv.slice(2);
const calls = Number(callsArg ?? 5000);
let seed = Number(seedArg ?? 1) >>> 0;
const random = () => {
  seed = (seed + 0x6d2b79f5) >>> 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
const pick = (xs) => xs[Math.floor(random() * xs.length)];
const t = (shape, lo = -1, hi = 1) =>
  tensor(Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => lo + (hi - lo) * random()), shape);

// Valid params for each op, and the names of its tensor arguments and options.
const VALID = {
  selectiveScan: () => ({ u: t([2, 4, 5]), delta: t([2, 4, 5]), A: t([4, 3], -1, -0.1), B: t([2, 3, 5]), C: t([2, 3, 5]), D: t([4]), deltaSoftplus: true }),
  selectiveScanStep: () => ({ state: t([2, 4, 3]), x: t([2, 4]), delta: t([2, 4]), A: t([4, 3], -1, -0.1), B: t([2, 3]), C: t([2, 3]), deltaSoftplus: true }),
  deltaRule: () => ({ q: t([1, 6, 2, 4]), k: t([1, 6, 2, 4]), v: t([1, 6, 2, 3]), beta: t([1, 6, 2], 0, 1), g: t([1, 6, 2], -1, 0), chunkSize: 16 }),
  deltaRuleStep: () => ({ state: t([2, 2, 4, 3]), q: t([2, 2, 4]), k: t([2, 2, 4]), v: t([2, 2, 3]), beta: t([2, 2], 0, 1) }),
  causalConv1d: () => ({ x: t([2, 3, 7]), weight: t([3, 4]), bias: t([3]), activation: 'silu' }),
  causalConv1dStep: () => ({ state: t([2, 3, 3]), x: t([2, 3]), weight: t([3, 4]) }),
  fftConv: () => ({ u: t([1, 2, 9]), k: t([2, 5]), D: t([2]) }),
  fftConvPlan: () => ({ k: t([2, 5]), L: 9 }),
  ssdScan: () => ({ x: t([1, 6, 2, 3]), dt: t([1, 6, 2]), A: t([2], -1, 0), B: t([1, 6, 1, 4]), C: t([1, 6, 1, 4]), dtSoftplus: true }),
  ssdScanStep: () => ({ state: t([2, 2, 3, 4]), x: t([2, 2, 3]), dt: t([2, 2]), A: t([2], -1, 0), B: t([2, 1, 4]), C: t([2, 1, 4]) }),
  linear: () => ({ x: t([3, 4]), weight: t([5, 4]), bias: t([5]) }),
};
// Options each op takes, with values that must be rejected.
const BAD_OPTIONS = {
  deltaSoftplus: [1, 'yes', null], returnFinalState: [0, 'true'], chunkSize: [0, 7, NaN, 128, '64'],
  scale: [NaN, Infinity, -Infinity, '0.5', 1e39], useQkL2Norm: [1], algorithm: ['fast', 3, null],
  activation: ['relu', 1, true], L: [0, -1, 2.5, NaN, 2 ** 40, '9', 4], signal: [{}, 1, 'x'],
  dtSoftplus: [1, 'no'], dtLimit: [[1, 0], [NaN, 1], 0.5, [0], ['0', 1]],
};

// The options each op takes.
const OPTIONS = {
  selectiveScan: ['deltaSoftplus', 'returnFinalState', 'signal'], selectiveScanStep: ['deltaSoftplus', 'signal'],
  deltaRule: ['scale', 'chunkSize', 'useQkL2Norm', 'algorithm', 'returnFinalState', 'signal'],
  deltaRuleStep: ['scale', 'useQkL2Norm', 'signal'], causalConv1d: ['activation', 'returnFinalState', 'signal'],
  causalConv1dStep: ['activation', 'signal'], fftConv: ['algorithm', 'signal'], fftConvPlan: ['L', 'signal'],
  ssdScan: ['dtSoftplus', 'dtLimit', 'algorithm', 'returnFinalState', 'signal'], ssdScanStep: ['dtSoftplus', 'dtLimit', 'signal'], linear: ['signal'],
};

// Malformed replacements for a tensor argument, each with the error it must raise.
function badTensors(good, alone) {
  const shape = good.shape;
  const n = good.data.length;
  return [
    [null, TypeError], [undefined, TypeError], [1, TypeError], ['x', TypeError], [{}, TypeError], [[1, 2], TypeError],
    [{ dtype: 'float64', shape, data: new Float64Array(n) }, TypeError],
    [{ dtype: 'float32', shape, data: new Float64Array(n) }, TypeError],
    [{ dtype: 'float32', shape, data: new Int32Array(n) }, TypeError],
    [{ dtype: 'float32', shape, data: new Float32Array(Math.max(0, n - 1)) }, RangeError],
    [{ dtype: 'float32', shape, data: new Float32Array(n + 1) }, RangeError],
    [{ dtype: 'float32', shape: [...shape, 1, 1, 1], data: good.data }, RangeError],
    [{ dtype: 'float32', shape: shape.slice(1), data: good.data }, RangeError],
    // Every dimension one larger, with matching data: wrong against the op's other tensors (if it has any).
    ...(alone ? [] : [[tensor(new Float32Array(shape.reduce((a, d) => a * (d + 1), 1)), shape.map((d) => d + 1)), RangeError]]),
    [{ dtype: 'float32', shape: shape.map(() => NaN), data: good.data }, TypeError],
    [{ dtype: 'float32', shape: shape.map((d) => -d), data: good.data }, TypeError],
    [{ dtype: 'float32', shape: shape.map((d) => d + 0.5), data: good.data }, TypeError],
    [{ dtype: 'float32', shape: [2 ** 31, ...shape.slice(1).map(() => 1)], data: good.data }, RangeError],
    [{ dtype: 'float32', shape: [...shape.slice(0, -1), 0], data: new Float32Array(0) }, RangeError],
  ];
}

function mutate(op) {
  const params = VALID[op]();
  const roll = random();
  if (roll < 0.05) return { params: pick([null, 1, 'x', [], undefined]), expected: TypeError, name: 'params' };
  if (roll < 0.1) return { params: { ...params, [pick(['foo', 'Scale', 'deltasoftplus', 'out'])]: 1 }, expected: TypeError, name: 'unknown argument' };
  const tensors = Object.keys(params).filter((k) => typeof params[k] === 'object');
  if (roll < 0.3) {
    const key = pick(OPTIONS[op]);
    return { params: { ...params, [key]: pick(BAD_OPTIONS[key]) }, expected: null, name: key };
  }
  const key = pick(tensors);
  // fftConvPlan's k is its only tensor: any consistent shape is a valid plan.
  const [value, expected] = pick(badTensors(params[key], tensors.length === 1));
  const mutated = { ...params, [key]: value };
  if (value === undefined) delete mutated[key];
  // An optional tensor left out is a valid call, not a malformed one.
  if (value === undefined && ['D', 'z', 'deltaBias', 'initialState', 'g', 'bias'].includes(key)) return mutate(op);
  return { params: mutated, expected, name: key };
}

async function call(ls, op, params) {
  if (op === 'fftConvPlan') return ls.fftConvPlan(params);
  return ls[op](params);
}

const ls = await init({ backend: backendName });
const ops = Object.keys(VALID);
const failures = [];
let rejected = 0;
for (let i = 0; i < calls; i++) {
  const op = ops[i % ops.length];
  const { params, expected, name } = mutate(op);
  if (i % 97 === 0) {  // SharedArrayBuffer-backed data is valid: it must work, not crash
    const good = VALID[op]();
    for (const [k, v] of Object.entries(good)) {
      if (typeof v === 'object') {
        const shared = new Float32Array(new SharedArrayBuffer(v.data.byteLength));
        shared.set(v.data);
        good[k] = tensor(shared, v.shape);
      }
    }
    try {
      await call(ls, op, good);
    } catch (e) {
      failures.push(`${op}: SharedArrayBuffer-backed data was rejected: ${e.message}`);
    }
  }
  const state = params && typeof params === 'object' && params.state?.data instanceof Float32Array ? params.state.data.slice() : undefined;
  try {
    await call(ls, op, params);
    failures.push(`${op}: ${name} was accepted`);
  } catch (e) {
    const typeOk = e instanceof TypeError || e instanceof RangeError;
    const classOk = expected === null ? typeOk : e instanceof expected;
    // A shape change of the tensor that defines a dimension is reported on the next tensor that disagrees.
    const message = String(e.message);
    const names = [name, ...Object.keys(VALID[op]())];
    const named = message.startsWith(`${op}:`) && (name === 'unknown argument' || names.some((n) => message.includes(n)));
    if (!typeOk || !classOk || !named) failures.push(`${op}: ${name}: expected ${expected?.name ?? 'TypeError/RangeError'} naming it, got ${e?.name}: ${e?.message}`);
    else rejected++;
  }
  if (state && !params.state.data.every((v, j) => Object.is(v, state[j]))) failures.push(`${op}: ${name}: the state changed`);
}
// The backend still works after all that.
const { y } = await ls.selectiveScan(VALID.selectiveScan());
if (!y.data.every(Number.isFinite)) failures.push('a valid call after the fuzz gave non-finite output');
console.log(JSON.stringify({ calls, rejectedAsExpected: rejected, failures: failures.slice(0, 20), failureCount: failures.length }));
