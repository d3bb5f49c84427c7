// The longseq browser demo: runs an op at the lengths you pick on each backend, and plots throughput.
import { init, tensor } from 'longseq';

const $ = (id) => document.getElementById(id);
const random = (n, lo = -1, hi = 1) => {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = lo + (hi - lo) * Math.random();
  return a;
};

// Each op at a model-like width; `elements` is what the throughput counts (output elements or token·heads).
const OPS = {
  selectiveScan: (L) => {
    const [D, N] = [768, 16];
    const p = { u: tensor(random(D * L), [1, D, L]), delta: tensor(random(D * L, -3, 0), [1, D, L]),
      A: tensor(random(D * N, -4, -0.5), [D, N]), B: tensor(random(N * L), [1, N, L]), C: tensor(random(N * L), [1, N, L]),
      z: tensor(random(D * L), [1, D, L]), deltaSoftplus: true };
    return { elements: D * L, run: (ls) => ls.selectiveScan(p) };
  },
  deltaRule: (L) => {
    const [H, K] = [8, 64];
    const p = { q: tensor(random(L * H * K), [1, L, H, K]), k: tensor(random(L * H * K), [1, L, H, K]),
      v: tensor(random(L * H * K), [1, L, H, K]), beta: tensor(random(L * H, 0, 1), [1, L, H]),
      g: tensor(random(L * H, -0.5, 0), [1, L, H]), useQkL2Norm: true };
    return { elements: L * H, run: (ls) => ls.deltaRule(p) };
  },
  causalConv1d: (L) => {
    const D = 1536;
    const p = { x: tensor(random(D * L), [1, D, L]), weight: tensor(random(D * 4), [D, 4]), activation: 'silu' };
    return { elements: D * L, run: (ls) => ls.causalConv1d(p) };
  },
  fftConv: (L) => {
    const H = 8;
    const p = { u: tensor(random(H * L), [1, H, L]), k: tensor(random(H * L, -0.01, 0.01), [H, L]), D: tensor(random(H), [H]) };
    return { elements: H * L, run: (ls) => ls.fftConv(p) };
  },
};

const COLORS = { wasm: '#1f77b4', js: '#d62728' };
const results = [];

function plot() {
  const canvas = $('plot');
  const g = canvas.getContext('2d');
  const [W, H, pad] = [canvas.width, canvas.height, 48];
  g.clearRect(0, 0, W, H);
  if (results.length === 0) return;
  const xs = results.map((r) => Math.log2(r.L));
  const ys = results.map((r) => r.rate);
  const [x0, x1] = [Math.min(...xs) - 0.5, Math.max(...xs) + 0.5];
  const y1 = Math.max(...ys) * 1.15;
  const X = (x) => pad + ((x - x0) / (x1 - x0)) * (W - 2 * pad);
  const Y = (y) => H - pad + 12 - (y / y1) * (H - 2 * pad);
  g.strokeStyle = '#999';
  g.fillStyle = '#444';
  g.font = '12px system-ui';
  g.beginPath();
  g.moveTo(pad, Y(0));
  g.lineTo(W - pad, Y(0));
  g.moveTo(pad, Y(0));
  g.lineTo(pad, Y(y1));
  g.stroke();
  for (const r of new Set(results.map((r) => r.L))) g.fillText(String(r), X(Math.log2(r)) - 14, Y(0) + 16);
  g.fillText('M elements/s', 4, Y(y1) - 6);
  g.fillText('tokens', W - pad - 30, Y(0) + 32);
  for (let i = 0; i <= 4; i++) g.fillText((y1 * i / 4).toFixed(0), 8, Y((y1 * i) / 4) + 4);
  for (const backend of new Set(results.map((r) => r.backend))) {
    const points = results.filter((r) => r.backend === backend).sort((a, b) => a.L - b.L);
    g.strokeStyle = g.fillStyle = COLORS[backend] ?? '#333';
    g.lineWidth = 2;
    g.beginPath();
    points.forEach((p, i) => (i ? g.lineTo : g.moveTo).call(g, X(Math.log2(p.L)), Y(p.rate)));
    g.stroke();
    for (const p of points) g.fillRect(X(Math.log2(p.L)) - 3, Y(p.rate) - 3, 6, 6);
    g.fillText(backend, X(Math.log2(points.at(-1).L)) + 8, Y(points.at(-1).rate));
  }
}

async function run() {
  $('run').disabled = true;
  results.length = 0;
  $('rows').innerHTML = '';
  const op = document.querySelector('input[name=op]:checked').value;
  const lengths = $('lengths').value.split(',').map((s) => Number(s.trim())).filter((n) => n >= 1 && n <= 1_048_576);
  const backends = ['wasm', 'js'].filter((b) => $(b).checked);
  for (const name of backends) {
    const ls = await init({ backend: name });
    for (const L of lengths) {
      $('status').textContent = `${op} on ${name}, ${L} tokens...`;
      await new Promise((r) => setTimeout(r, 0)); // let the page paint
      const c = OPS[op](L);
      await c.run(ls); // warm-up
      const times = [];
      for (let i = 0; i < 3; i++) {
        const t0 = performance.now();
        await c.run(ls);
        times.push(performance.now() - t0);
      }
      const ms = times.sort((a, b) => a - b)[1]; // the median of three
      const rate = c.elements / ms / 1e3;
      results.push({ backend: name, L, ms, rate });
      $('rows').insertAdjacentHTML('beforeend',
        `<tr><td>${name} (${ls.description})</td><td>${op}</td><td>${L}</td><td>${ms.toFixed(1)}</td><td>${rate.toFixed(1)}</td></tr>`);
      plot();
    }
  }
  $('status').textContent = 'done';
  $('run').disabled = false;
  window.demoDone = true;
}

$('run').addEventListener('click', run);
const ls = await init({ backend: 'wasm' });
$('env').textContent = `wasm backend: ${ls.description}; crossOriginIsolated: ${globalThis.crossOriginIsolated === true}` +
  ` (serve with COOP/COEP headers for threads)`;
// ?op=fftConv&lengths=1024,4096&run=1 runs at once (the screenshot test uses it).
const query = new URLSearchParams(location.search);
if (query.get('op')) document.querySelector(`input[name=op][value=${query.get('op')}]`).checked = true;
if (query.get('lengths')) $('lengths').value = query.get('lengths');
if (query.get('js')) $('js').checked = true;
if (query.get('run')) run();
