// selectiveScan and selectiveScanStep at the DESIGN §6 configurations, with the options Mamba uses (softplus,
// D, z, deltaBias). Work model as in native/bench/selective_scan_bench.cc: 6 flops per output element and
// state (the exp not counted); compulsory traffic 16 bytes per element (u, delta, z in, y out) plus B and C.
import { tensor } from '../../dist/index.js';
import { random } from '../random.mjs';

function scanCase(batch, dim, dstate, seqlen) {
  const bdl = batch * dim * seqlen;
  const bnl = batch * dstate * seqlen;
  return {
    op: 'selectiveScan',
    config: `B${batch} D${dim} N${dstate} L${seqlen}`,
    elements: bdl,
    flops: 6 * bdl * dstate,
    bytes: 16 * bdl + 8 * bnl,
    inputBytes: 12 * bdl + 8 * bnl,
    make(seed) {
      const r = random(seed);
      return {
        u: tensor(r.floats(bdl, -1, 1), [batch, dim, seqlen]),
        delta: tensor(r.floats(bdl, -3, 0), [batch, dim, seqlen]),
        z: tensor(r.floats(bdl, -2, 2), [batch, dim, seqlen]),
        A: tensor(r.floats(dim * dstate, -8, -0.5), [dim, dstate]),
        B: tensor(r.floats(bnl, -1, 1), [batch, dstate, seqlen]),
        C: tensor(r.floats(bnl, -1, 1), [batch, dstate, seqlen]),
        D: tensor(r.floats(dim, -1, 1), [dim]),
        deltaBias: tensor(r.floats(dim, -1, 1), [dim]),
        deltaSoftplus: true,
      };
    },
    run: (ls, params) => ls.selectiveScan(params),
  };
}

function stepCase(batch, dim, dstate) {
  const bd = batch * dim;
  return {
    op: 'selectiveScanStep',
    config: `B${batch} D${dim} N${dstate}`,
    elements: bd,
    flops: 6 * bd * dstate,
    bytes: 8 * bd * dstate + 16 * bd + 8 * batch * dstate,
    inputBytes: 4 * bd * dstate,
    make(seed) {
      const r = random(seed);
      return {
        state: tensor(r.floats(bd * dstate, -1, 1), [batch, dim, dstate]),
        x: tensor(r.floats(bd, -1, 1), [batch, dim]),
        delta: tensor(r.floats(bd, -3, 0), [batch, dim]),
        z: tensor(r.floats(bd, -2, 2), [batch, dim]),
        A: tensor(r.floats(dim * dstate, -8, -0.5), [dim, dstate]),
        B: tensor(r.floats(batch * dstate, -1, 1), [batch, dstate]),
        C: tensor(r.floats(batch * dstate, -1, 1), [batch, dstate]),
        D: tensor(r.floats(dim, -1, 1), [dim]),
        deltaBias: tensor(r.floats(dim, -1, 1), [dim]),
        deltaSoftplus: true,
      };
    },
    run: (ls, params) => ls.selectiveScanStep(params),
  };
}

export const cases = [
  scanCase(1, 1536, 16, 1024),
  scanCase(1, 1536, 16, 4096),
  scanCase(1, 1536, 16, 16384),
  scanCase(8, 1536, 16, 2048),
  stepCase(64, 2048, 16),
];
