// longseq-delta-rule-emulated's second part: the chunked delta rule off sm_90 (delta_rule_chunked.cu: the prepare
// kernel and the walk over chunks, float32 on tensor cores in 3xTF32, bf16 through ldmatrix in both workspace forms and
// with output warps) run on the CPU (cuda/emulate.h's mma.sync, ldmatrix and named barriers) as its Launch runs them
// where q and k have no tensor maps, against the recurrence in double: every state-block width (64, 32, 16, 8
// columns), padded key and value dims, partial chunks, segments of the workspace (the state carried between them
// through the final state, written over the initial one), gated and plain, L2-normalized q and k, grouped value heads.
// Not covered: the sm_90 paths (bulk copies, q's and k's tiles by tensor maps, two staged chunk sets in bf16).
// delta_rule_chunked_sm90_emulated.cc compiles this file again as an sm_90 device: the chunk sets by bulk copies
// counted by mbarriers, two of them staged in bf16, q's and k's tiles by tensor maps.
#define LONGSEQ_CUDA_EMULATE
#include "cuda/delta_rule_chunked.cu"
#include "cuda/delta_rule_emulated.h"

#if __CUDA_ARCH__ >= 900
#define LS_CHUNKED_CASES ChunkedCasesSm90
constexpr bool kSm90 = true;
#else
#define LS_CHUNKED_CASES ChunkedCases
constexpr bool kSm90 = false;
#endif

namespace delta_emulated {
namespace {

using namespace ls::cuda;
using emulate::EncodeTokenTiles;  // (the host's, in cuda/common.cuh, is left out)

// Launch's kernels for the case with state blocks of `columns`, `per_segment` chunks of the workspace at a time;
// whether it failed. o's bound: 2e-5 in float32; 4e-3 in bf16, where P is rounded to bf16 once (about 3e-3).
template <typename T>
bool Chunked(const Case& c, int columns, int64_t per_segment) {
  Problem<T> p(c);
  const int Kp = (c.K + 15) / 16 * 16, Vp = (c.V + kColumnPad - 1) / kColumnPad * kColumnPad;
  const int64_t heads = int64_t{c.batch} * c.value_heads, chunks = (c.seqlen + kC - 1) / kC;
  const int groups = (c.V + columns - 1) / columns;
  const bool t_form = sizeof(T) == 2 && TForm(columns);
  // bf16 on sm_90: q's and k's tiles by tensor maps where at most kMostTileReaders blocks read each (as Launch).
  QkTiles tiles = {};
  const bool qk_in_set = !kSm90 || sizeof(T) == 4 || groups * (c.value_heads / c.heads) > kMostTileReaders ||
                         !(EncodeTokenTiles(&tiles.q, p.q.data(), c.batch, c.seqlen, c.heads, c.K,
                                                     SetLayout(Kp, t_form).row, kC) &&
                           EncodeTokenTiles(&tiles.k, p.k.data(), c.batch, c.seqlen, c.heads, c.K,
                                                     SetLayout(Kp, t_form).row, kC));
  const int64_t record_bytes = RecordBytes<T>(Kp, Vp, qk_in_set, t_form);
  std::vector<float4> workspace((heads * per_segment * record_bytes + 15) / 16);
  for (float4& x : workspace) x = {NAN, NAN, NAN, NAN};
  WorkspaceOf<T> w;
  Carve(w, workspace.data(), heads * per_segment, Kp, Vp, qk_in_set, t_form);
  const ChunkArgs<T> a = {c.batch,       c.seqlen,   c.heads,     c.value_heads, c.K,
                          c.V,           Kp,         Vp,          p.q.data(),    p.k.data(),
                          p.v.data(),    p.beta.data(), c.gated ? p.g.data() : nullptr, p.o.data(), p.scale,
                          c.l2norm};
  const int blocks = static_cast<int>(heads * groups);
  for (int64_t first = 0; first < chunks; first += per_segment) {
    w.chunks = std::min(per_segment, chunks - first);
    emulate::Launch(static_cast<int>(heads * w.chunks), kThreads, PrepareSharedFor<T>(Kp),
                    [&] { PrepareKernelFor<T>(Kp, columns)(a, w, first); });
    const float* state_in = first == 0 ? (c.initial ? p.initial.data() : nullptr) : p.final_out;
    if constexpr (sizeof(T) == 2) {
      emulate::Launch(blocks, StateThreadsBf16(columns), StateSharedFor<T>(Kp, columns),
                      [&] { StateKernelBf16For(Kp, columns)(a, w, tiles, first, groups, state_in, p.final_out); });
    } else {
      emulate::Launch(blocks, StateThreads(columns), StateSharedFor<T>(Kp, columns),
                      [&] { StateKernelFor(Kp, columns)(a, w, first, groups, state_in, p.final_out); });
    }
  }
  char what[160];
  snprintf(what, sizeof what, "chunked rule%s (%d-column state blocks%s%s, segments of %lld chunks)",
           kSm90 ? " as on sm_90" : "", columns, sizeof(T) == 2 ? (t_form ? ", T form" : ", W/U form") : "",
           qk_in_set ? "" : ", q and k by tensor maps", static_cast<long long>(per_segment));
  return p.Report(what, sizeof(T) == 2 ? 4e-3 : 2e-5);
}

#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
// LaunchWgmma's kernels for the case (key dim 128 padded, storage T), `per_segment` chunks of the workspace at a time.
// o's bound: 4e-3 in bf16 (P rounded once); 5e-5 in float32 (operands in two bf16 parts: about 1e-5).
template <typename T, bool kBf16Products = false>
bool WgmmaChunked(const Case& c, int64_t per_segment) {
  constexpr bool kFloat = sizeof(T) == 4;
  Problem<T> p(c);
  const int Vp = (c.V + kColumnPad - 1) / kColumnPad * kColumnPad;
  const int64_t heads = int64_t{c.batch} * c.value_heads, chunks = (c.seqlen + kC - 1) / kC;
  const int groups = (c.V + kWgmmaColumns - 1) / kWgmmaColumns;
  const int record_elements = WgmmaRecordElements<T>();
  WalkTiles tiles;
  const bool encoded = kFloat ? EncodeTokenTiles(&tiles.v, p.v.data(), c.batch, c.seqlen, c.value_heads, c.V, 32, kC, 128, 4)
                              : EncodeTokenTiles(&tiles.q, p.q.data(), c.batch, c.seqlen, c.heads, c.K, 64, kC, 128) &&
                                    EncodeTokenTiles(&tiles.k, p.k.data(), c.batch, c.seqlen, c.heads, c.K, 64, kC, 128) &&
                                    EncodeTokenTiles(&tiles.v, p.v.data(), c.batch, c.seqlen, c.value_heads, c.V, 64, kC, 128) &&
                                    EncodeTokenTiles(&tiles.o, p.o.data(), c.batch, c.seqlen, c.value_heads, c.V, 64, kC, 128);
  if (!encoded) {
    printf("FAIL warpgroup walk: no tensor maps\n");
    return true;
  }
  std::vector<float4> workspace((heads * per_segment * (2 * record_elements + 4) + 15) / 16);
  for (float4& x : workspace) x = {NAN, NAN, NAN, NAN};
  WorkspaceBf16 w = {};
  w.sets = reinterpret_cast<__nv_bfloat16*>(workspace.data()), w.record = record_elements, w.qk_in_set = false;
  w.decay = reinterpret_cast<float*>(w.sets + heads * per_segment * w.record);
  const ChunkArgs<T> a = {c.batch, c.seqlen, c.heads, c.value_heads, c.K, c.V, 128, Vp, p.q.data(), p.k.data(),
                          p.v.data(), p.beta.data(), c.gated ? p.g.data() : nullptr, p.o.data(), p.scale, c.l2norm};
  for (int64_t first = 0; first < chunks; first += per_segment) {
    w.chunks = std::min(per_segment, chunks - first);
    emulate::Launch(static_cast<int>(heads * w.chunks), kThreads, WgmmaPrepareShared<T>(),
                    [&] { WgmmaPrepareKernel<T>()(a, w, first); });
    const float* state_in = first == 0 ? (c.initial ? p.initial.data() : nullptr) : p.final_out;
    emulate::Launch(static_cast<int>(heads * groups), kWalkThreads, WgmmaStateShared<T>(),
                    [&] { WgmmaStateKernel<T, kBf16Products>(a, w, tiles, OneWalk(first, w.chunks, groups, state_in, p.final_out)); });
  }
  char what[160];
  snprintf(what, sizeof what, "chunked rule as on sm_90a (%s, the walk on warpgroup products, segments of %lld chunks)",
           kBf16Products ? "bf16 products" : kFloat ? "float32" : "bf16", static_cast<long long>(per_segment));
  return kBf16Products ? p.Report(what, 1e-2, 1e-2) : p.Report(what, kFloat ? 5e-5 : 4e-3);
}

// LaunchWgmmaParallel's kernels (storage T): `count` segments walked at once in rounds of `round` chunks, their starts
// chained, C S added to the later segments' o. Bounds as WgmmaChunked's.
template <typename T, bool kBf16Products = false>
bool WgmmaParallel(const Case& c, int count, int64_t round) {
  constexpr bool kFloat = sizeof(T) == 4;
  Problem<T> p(c);
  const int Vp = (c.V + kColumnPad - 1) / kColumnPad * kColumnPad;
  const int64_t heads = int64_t{c.batch} * c.value_heads, chunks = (c.seqlen + kC - 1) / kC;
  SegmentPlan plan(count, heads, chunks, c.K, c.V);
  count = plan.count;
  const int64_t c_token0 = plan.c_token0();
  std::vector<T> C(static_cast<size_t>(c.batch) * (c.seqlen - c_token0) * c.value_heads * c.K);
  for (T& x : C) StoreAs(&x, NAN);
  WalkTiles tiles;
  const bool encoded = kFloat ? EncodeTokenTiles(&tiles.v, p.v.data(), c.batch, c.seqlen, c.value_heads, c.V, 32, kC, 128, 4)
                              : EncodeTokenTiles(&tiles.q, p.q.data(), c.batch, c.seqlen, c.heads, c.K, 64, kC, 128) &&
                                    EncodeTokenTiles(&tiles.k, p.k.data(), c.batch, c.seqlen, c.heads, c.K, 64, kC, 128) &&
                                    EncodeTokenTiles(&tiles.v, p.v.data(), c.batch, c.seqlen, c.value_heads, c.V, 64, kC, 128) &&
                                    EncodeTokenTiles(&tiles.o, p.o.data(), c.batch, c.seqlen, c.value_heads, c.V, 64, kC, 128) &&
                                    EncodeTokenTiles(&tiles.c, C.data(), c.batch, c.seqlen - c_token0, c.value_heads, c.K, 64, kC, 128);
  if constexpr (kFloat) plan.c = C.data();
  if (!encoded) {
    printf("FAIL segment-parallel walk: no tensor maps\n");
    return true;
  }
  const int record_elements = WgmmaRecordElements<T>();
  std::vector<float4> workspace((count * heads * round * (2 * record_elements + 4) + 15) / 16);
  std::vector<float> states(plan.states_floats(), NAN), phis(plan.phis_floats(), NAN);
  plan.states = states.data(), plan.phis = phis.data();
  const ChunkArgs<T> a = {c.batch, c.seqlen, c.heads, c.value_heads, c.K, c.V, 128, Vp, p.q.data(), p.k.data(),
                          p.v.data(), p.beta.data(), c.gated ? p.g.data() : nullptr, p.o.data(), p.scale, c.l2norm};
  for (int64_t i = 0, offset = 0; offset < plan.length; ++i) {
    for (float4& x : workspace) x = {NAN, NAN, NAN, NAN};
    const int64_t m = SegmentChunks(i, round, plan.length - offset, true);
    WorkspaceBf16 w = {};
    w.sets = reinterpret_cast<__nv_bfloat16*>(workspace.data()), w.record = record_elements, w.qk_in_set = false, w.chunks = m;
    w.decay = reinterpret_cast<float*>(w.sets + count * heads * m * w.record);
    const WalkSegments segments = plan.Round(offset, m, c.initial ? p.initial.data() : nullptr);
    for (int j = 0; j < count; ++j) {
      emulate::Launch(static_cast<int>(heads * m), kThreads, WgmmaPrepareShared<T>(),
                      [&] { WgmmaPrepareKernel<T>()(a, plan.Records(w, j), segments.first_chunk[j]); });
    }
    emulate::Launch(static_cast<int>(plan.walk_blocks()), kWalkThreads, WgmmaStateShared<T>(),
                    [&] { WgmmaStateKernel<T, kBf16Products, true>(a, w, tiles, segments); });
    offset += m;
  }
  const int slices = (c.V + kChainColumns - 1) / kChainColumns;
  emulate::Launch(static_cast<int>(heads * slices), kChainThreads, 0, [&] {
    ChainSegmentsKernel(c.K, c.V, count, slices, heads, plan.states, plan.phis, p.final_out);
  });
  const int run_chunks = 2, runs = static_cast<int>((plan.length + run_chunks - 1) / run_chunks);
  emulate::Launch(static_cast<int>((count - 1) * heads * plan.value_groups * runs), kFixThreads, FixShared<T>(), [&] {
    FixSegmentOutputsKernel(a, plan.value_groups, plan.length, runs, run_chunks, c_token0, plan.states, C.data());
  });
  char what[160];
  snprintf(what, sizeof what, "chunked rule as on sm_90a (%s, %d segments walked at once, rounds of %lld chunks)",
           kBf16Products ? "bf16 products" : kFloat ? "float32" : "bf16", count, static_cast<long long>(round));
  return kBf16Products ? p.Report(what, 1e-2, 1e-2) : p.Report(what, kFloat ? 5e-5 : 4e-3);
}
#endif

}  // namespace

#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
int ChunkedCasesSm90a() {
  int failed = 0;
  failed += WgmmaChunked<__nv_bfloat16>({1, 130, 1, 2, 128, 128, true, true, true, false}, 3);
  failed += WgmmaChunked<__nv_bfloat16>({2, 100, 2, 2, 120, 72, false, true, false, true}, 1);
  failed += WgmmaChunked<__nv_bfloat16>({1, 200, 1, 1, 128, 64, true, false, true, false}, 4);
  failed += WgmmaChunked<float>({1, 130, 1, 2, 128, 128, true, true, true, false}, 3);
  failed += WgmmaChunked<float>({2, 100, 2, 2, 120, 72, false, true, false, true}, 1);
  failed += WgmmaChunked<float>({1, 200, 1, 1, 128, 64, true, false, true, false}, 4);
  failed += WgmmaChunked<__nv_bfloat16, true>({1, 130, 1, 2, 128, 128, true, true, true, false}, 3);
  failed += WgmmaChunked<__nv_bfloat16, true>({2, 100, 2, 2, 120, 72, false, true, false, true}, 1);
  failed += WgmmaChunked<__nv_bfloat16, true>({1, 200, 1, 1, 128, 64, true, false, true, false}, 4);
  failed += WgmmaParallel<__nv_bfloat16>({1, 700, 1, 2, 128, 128, true, true, true, false}, 3, 2);
  failed += WgmmaParallel<__nv_bfloat16>({2, 300, 2, 2, 120, 72, false, true, false, true}, 2, 1);
  failed += WgmmaParallel<__nv_bfloat16, true>({1, 700, 1, 2, 128, 128, true, true, true, false}, 3, 2);
  failed += WgmmaParallel<float>({1, 700, 1, 2, 128, 128, true, true, true, false}, 3, 2);
  failed += WgmmaParallel<float>({2, 300, 2, 2, 120, 72, false, true, false, true}, 2, 1);
  // float32 at a value dim not a multiple of 8 (68: the chain's and the fix-up's last columns partly past V)
  failed += WgmmaParallel<float>({1, 300, 1, 2, 128, 68, true, false, true, false}, 2, 1);
  // float32 at key dim 116 (not a multiple of 8; bf16 walks here only at multiples of 8, its tensor maps' rows being
  // whole 16-byte units)
  failed += WgmmaParallel<float>({1, 300, 1, 2, 116, 64, true, true, false, false}, 2, 1);
  return failed;
}
#else
int LS_CHUNKED_CASES() {
  int failed = 0;
  failed += Chunked<float>({1, 130, 1, 2, 48, 40, true, true, true, false}, 16, 3);
  failed += Chunked<float>({1, 100, 2, 2, 40, 64, false, true, true, true}, 64, 1);
  failed += Chunked<float>({1, 70, 1, 1, 32, 24, true, false, false, false}, 8, 2);
  failed += Chunked<float>({1, 70, 1, 1, 128, 32, true, true, true, false}, 32, 2);
  failed += Chunked<__nv_bfloat16>({1, 130, 1, 2, 48, 40, true, true, true, false}, 16, 3);
  failed += Chunked<__nv_bfloat16>({1, 100, 2, 2, 40, 64, false, true, true, true}, 64, 1);
  failed += Chunked<__nv_bfloat16>({1, 70, 1, 1, 32, 24, true, true, true, false}, 8, 2);
  failed += Chunked<__nv_bfloat16>({1, 70, 1, 1, 128, 32, true, true, true, false}, 32, 2);
  return failed;
}
#endif

}  // namespace delta_emulated
