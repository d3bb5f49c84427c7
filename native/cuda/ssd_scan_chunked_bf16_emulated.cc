// longseq-ssd-scan-emulated's third part: the chunked SSD scan's bf16 form off sm_90 (ssd_scan_chunked_bf16.cu: the
// decays with the tokens' weights, WalkKernel and OutputKernel with its tiles staged by cp.async, their products on
// bf16 tensor cores through ldmatrix) run on the CPU (cuda/emulate.h's mma.sync and ldmatrix) as LaunchSsdChunkedBf16
// runs them where it has neither warpgroup products nor tensor maps, against the recurrence in double: both walk
// shapes, both output depths (64 and 128 states), segments of the workspace. Not covered: the sm_90 kernels
// (warpgroup products, tensor maps).
#define LONGSEQ_CUDA_EMULATE
#include "cuda/ssd_scan_chunked_bf16.cu"
#include "cuda/ssd_scan_emulated.h"

namespace ssd_emulated {
namespace {

using namespace ls::cuda;

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
  const int walk_blocks = static_cast<int>(heads * ((P + walk_rows - 1) / walk_rows) * ((a.Np + walk_columns - 1) / walk_columns));
  std::vector<double> gamma(heads * per_segment * kQ, NAN);
  std::vector<float> dt(heads * per_segment * kQ, NAN), weights(heads * per_segment * kSsdWeights, NAN);
  std::vector<bf16> state(heads * per_segment * P * a.Np);
  for (bf16& e : state) StoreAs(&e, NAN);
  const float* initial = c.initial ? p.initial.data() : nullptr;
  const OutputTiles no_tiles = {};
  for (int64_t first = 0; first < chunks; first += per_segment) {
    const Bf16Workspace w = {gamma.data(), dt.data(), weights.data(), state.data(), std::min(per_segment, chunks - first)};
    const int records = static_cast<int>(heads * w.chunks);
    emulate::Launch(records, kQ, 0, [&] { SsdDecayKernel<bf16>(a, w.gamma, w.dt, w.weights, w.chunks, first); });
    const float* state_in = first == 0 ? initial : p.final_out;
    const size_t walk_shared = WalkShared(walk_rows, walk_columns, walk_stages);
    if (few) {
      emulate::Launch(walk_blocks, 2 * walk_columns, walk_shared,
                      [&] { WalkKernel<16, 4, 4>(a, w, first, state_in, p.final_out); });
    } else {
      emulate::Launch(walk_blocks, 2 * walk_columns, walk_shared,
                      [&] { WalkKernel<32, 8, 3>(a, w, first, state_in, p.final_out); });
    }
    const int output_blocks = static_cast<int>(records * column_blocks);
    if (a.Np == 64) {
      emulate::Launch(output_blocks, kOutThreads, OutputShared(64), [&] { OutputKernel<4, false>(a, w, first, no_tiles); });
    } else {
      emulate::Launch(output_blocks, kOutThreads, OutputShared(128), [&] { OutputKernel<8, false>(a, w, first, no_tiles); });
    }
  }
  char what[100];
  snprintf(what, sizeof what, "chunked scan on bf16 tensor cores (walk of %d rows, segments of %lld chunks)", walk_rows,
           static_cast<long long>(per_segment));
  return p.Report(what);
}

}  // namespace

int ChunkedBf16Cases() {
  int failed = 0;
  failed += ChunkedBf16({1, 200, 2, 40, 1, 16, false, true, true, true, false}, 2, true);
  failed += ChunkedBf16({1, 260, 2, 70, 2, 100, true, true, true, true, true}, 1, false);
  return failed;
}

}  // namespace ssd_emulated
