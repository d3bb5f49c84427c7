// longseq-ssd-scan-emulated's third part: the chunked SSD scan's bf16 form off sm_90 (ssd_scan_chunked_bf16.cu: the
// decays with the tokens' weights, WalkKernel and OutputKernel with its tiles staged by cp.async, their products on
// bf16 tensor cores through ldmatrix) run on the CPU (cuda/emulate.h's mma.sync and ldmatrix) as LaunchSsdChunkedBf16
// runs them where it has neither warpgroup products nor tensor maps, against the recurrence in double: both walk
// shapes, both output depths (64 and 128 states), segments of the workspace. Not covered: the sm_90a kernels (warpgroup
// products).
// ssd_scan_chunked_bf16_sm90_emulated.cc compiles this file again as an sm_90 device without sm_90a code (the output
// kernel's tiles by tensor maps), and ssd_scan_chunked_bf16_sm90a_emulated.cc as one with it (an H200 with this build:
// the walk and the outputs on warpgroup products, their tiles by swizzled tensor maps).
#define LONGSEQ_CUDA_EMULATE
#include "cuda/ssd_scan_chunked_bf16.cu"
#include "cuda/ssd_scan_emulated.h"

#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
#define LS_CHUNKED_BF16_CASES ChunkedBf16CasesSm90a
constexpr bool kSm90 = true, kSm90a = true;
#elif __CUDA_ARCH__ >= 900
#define LS_CHUNKED_BF16_CASES ChunkedBf16CasesSm90
constexpr bool kSm90 = true, kSm90a = false;
#else
#define LS_CHUNKED_BF16_CASES ChunkedBf16Cases
constexpr bool kSm90 = false, kSm90a = false;
#endif

namespace ssd_emulated {
namespace {

using namespace ls::cuda;
using emulate::EncodeTokenTiles;  // (the host's, in cuda/common.cuh, is left out)

// The case's kernels, `per_segment` chunks of the workspace at a time, the walk in blocks of 16 head dims and 64 states
// (`few`) or 32 and 128; whether it failed.
bool ChunkedBf16(const Case& c, int64_t per_segment, bool few) {
  Problem<bf16> p(c);
  SsdChunkArgs<bf16> a = MakeSsdChunkArgs<bf16>(p.Params());
  a.Np = a.Np <= 64 ? 64 : 128;
  const int P = c.head_dim;
  const int64_t heads = int64_t{c.batch} * c.heads, chunks = (c.seqlen + kQ - 1) / kQ;
  const int64_t column_blocks = (P + kOutColumns - 1) / kOutColumns;
  const int walk_rows = few ? 16 : 32, walk_columns = few ? 64 : 128, walk_stages = few ? 4 : 3;
  const int walk_blocks =
      static_cast<int>(heads * ((P + walk_rows - 1) / walk_rows) * ((a.Np + walk_columns - 1) / walk_columns));
  std::vector<double> gamma(heads * per_segment * kQ, NAN);
  std::vector<float> dt(heads * per_segment * kQ, NAN), weights(heads * per_segment * kSsdWeights, NAN);
  std::vector<bf16> state(heads * per_segment * P * a.Np);
  for (bf16& e : state) StoreAs(&e, NAN);
  const float* initial = c.initial ? p.initial.data() : nullptr;
  // As LaunchSsdChunkedBf16: on sm_90a the walk on warpgroup products where x and B have their tensor maps, and the
  // outputs too where every tile has one; else on sm_90 the output kernel's tiles by tensor maps where they can be made.
  CUtensorMap x_tiles = {}, b_tiles = {};
  const bool wgmma = kSm90a &&
                     EncodeTokenTiles(&x_tiles, p.x.data(), c.batch, c.seqlen, c.heads, P, kWgmmaRows, kQ, 128) &&
                     EncodeTokenTiles(&b_tiles, p.B.data(), c.batch, c.seqlen, c.groups, c.dstate, kWgmmaStates, kQ, 64);
  WgmmaOutputMaps wgmma_maps = {};
  wgmma_maps.x = x_tiles;
  const bool wgmma_output =
      wgmma && EncodeTokenTiles(&wgmma_maps.c, p.C.data(), c.batch, c.seqlen, c.groups, c.dstate, 64, kQ, 128) &&
      EncodeTokenTiles(&wgmma_maps.b, p.B.data(), c.batch, c.seqlen, c.groups, c.dstate, 64, kQ, 128) &&
      EncodeTokenTiles(&wgmma_maps.s, state.data(), heads * per_segment, P, 1, a.Np, 64, 64, 128) &&
      (!c.z || EncodeTokenTiles(&wgmma_maps.z, p.z.data(), c.batch, c.seqlen, c.heads, P, 64, kQ)) &&
      EncodeTokenTiles(&wgmma_maps.y, p.y.data(), c.batch, c.seqlen, c.heads, P, 64, 64, 128);
  OutputTiles tiles = {};
  const int ns = Padded(a.Np);
  const bool tma = kSm90 && !wgmma_output &&
                   EncodeTokenTiles(&tiles.c, p.C.data(), c.batch, c.seqlen, c.groups, c.dstate, ns, kQ) &&
                   EncodeTokenTiles(&tiles.b, p.B.data(), c.batch, c.seqlen, c.groups, c.dstate, ns, kQ) &&
                   EncodeTokenTiles(&tiles.s, state.data(), heads * per_segment, P, 1, a.Np, ns, kOutColumns) &&
                   EncodeTokenTiles(&tiles.x, p.x.data(), c.batch, c.seqlen, c.heads, P, Padded(kOutColumns), kQ);
  for (int64_t first = 0; first < chunks; first += per_segment) {
    const Bf16Workspace w = {gamma.data(), dt.data(), weights.data(), state.data(), std::min(per_segment, chunks - first)};
    const int records = static_cast<int>(heads * w.chunks);
    emulate::Launch(records, kQ, 0, [&] { SsdDecayKernel<bf16>(a, w.gamma, w.dt, w.weights, w.chunks, first); });
    const float* state_in = first == 0 ? initial : p.final_out;
    const size_t walk_shared = WalkShared(walk_rows, walk_columns, walk_stages);
    if (wgmma) {
      const int blocks = static_cast<int>(heads * ((P + kWgmmaRows - 1) / kWgmmaRows) * (a.Np / kWgmmaStates));
      emulate::Launch(blocks, kWgmmaThreads, WgmmaWalkShared(),
                      [&] { WgmmaWalkKernel(a, w, x_tiles, b_tiles, first, state_in, p.final_out); });
    } else if (few) {
      emulate::Launch(walk_blocks, 2 * walk_columns, walk_shared,
                      [&] { WalkKernel<16, 4, 4>(a, w, first, state_in, p.final_out); });
    } else {
      emulate::Launch(walk_blocks, 2 * walk_columns, walk_shared,
                      [&] { WalkKernel<32, 8, 3>(a, w, first, state_in, p.final_out); });
    }
    const int output_blocks = static_cast<int>(records * column_blocks);
    if (wgmma_output) {
      const auto output = a.Np == 64 ? WgmmaOutputKernel<1> : WgmmaOutputKernel<2>;
      emulate::Launch(output_blocks, 128, a.Np == 64 ? WgmmaOutputShared<1>() : WgmmaOutputShared<2>(),
                      [&] { output(a, w, first, wgmma_maps); });
    } else {
      const auto output = tma ? (a.Np == 64 ? OutputKernel<4, true> : OutputKernel<8, true>)
                              : (a.Np == 64 ? OutputKernel<4, false> : OutputKernel<8, false>);
      emulate::Launch(output_blocks, kOutThreads, OutputShared(a.Np), [&] { output(a, w, first, tiles); });
    }
  }
  char what[160];
  snprintf(what, sizeof what, "chunked scan on bf16 tensor cores%s (%s, segments of %lld chunks%s)",
           kSm90a ? " as on sm_90a" : kSm90 ? " as on sm_90" : "",
           wgmma ? "walk on warpgroup products" : few ? "walk of 16 rows" : "walk of 32 rows",
           static_cast<long long>(per_segment),
           wgmma_output ? ", outputs on warpgroup products" : tma ? ", outputs' tiles by tensor maps" : "");
  return p.Report(what);
}

}  // namespace

int LS_CHUNKED_BF16_CASES() {
  int failed = 0;
  failed += ChunkedBf16({1, 200, 2, 40, 1, 16, false, true, true, true, false}, 2, true);
  failed += ChunkedBf16({1, 260, 2, 70, 2, 100, true, true, true, true, true}, 1, false);
  if (kSm90a) failed += ChunkedBf16({1, 200, 2, 64, 1, 128, false, true, true, true, true}, 1, true);  // 128 states
  return failed;
}

}  // namespace ssd_emulated
