// longseq-ssd-scan-emulated's second half: the chunked SSD scan's float32 form (ssd_scan_chunked.cu: the decays, C B^T,
// the walk over chunks and the output, their products on tensor cores in 3xTF32) run on the CPU (cuda/emulate.h's
// mma.sync) as its Launch runs them, against the recurrence in double: both walk shapes (16 rows and whole chunks, 32
// rows and half chunks), segments of the workspace (the state carried between them through the final state, written
// over the initial one), padded states, groups, partial chunks, head dims past an output block.
#define LONGSEQ_CUDA_EMULATE
#include "cuda/ssd_scan_chunked.cu"
#include "cuda/ssd_scan_emulated.h"

namespace ssd_emulated {
namespace {

using namespace ls::cuda;

// Launch's kernels for the case, `per_segment` chunks of the workspace at a time, the walk in 16 rows (`few`: as where
// its blocks fit the SMs) or 32; whether it failed.
bool Chunked(const Case& c, int64_t per_segment, bool few) {
  Problem<float> p(c);
  const SsdChunkArgs<float> a = MakeSsdChunkArgs<float>(p.Params());
  const int Np = a.Np, P = c.head_dim;
  const int64_t heads = int64_t{c.batch} * c.heads, groups = int64_t{c.batch} * c.groups;
  const int64_t chunks = (c.seqlen + kQ - 1) / kQ, column_blocks = (P + kOutColumns - 1) / kOutColumns;
  const int walk_rows = few ? 16 : 32, row_blocks = (P + walk_rows - 1) / walk_rows;
  std::vector<double> gamma(heads * per_segment * kQ, NAN);
  std::vector<float> dt(heads * per_segment * kQ, NAN), gram(groups * per_segment * kQ * kQ, NAN);
  std::vector<float> state(heads * per_segment * P * Np, NAN);
  const SsdWorkspace w0 = {gamma.data(), dt.data(), gram.data(), state.data(), 0};
  const float* initial = c.initial ? p.initial.data() : nullptr;
  for (int64_t first = 0; first < chunks; first += per_segment) {
    SsdWorkspace w = w0;
    w.chunks = std::min(per_segment, chunks - first);
    const int records = static_cast<int>(heads * w.chunks);
    emulate::Launch(records, kQ, 0, [&] { SsdDecayKernel<float>(a, w.gamma, w.dt, nullptr, w.chunks, first); });
    emulate::Launch(static_cast<int>(groups * w.chunks), kThreads, GramShared(Np), [&] { GramKernel(a, w, first); });
    const float* state_in = first == 0 ? initial : p.final_out;
    if (few) {
      emulate::Launch(static_cast<int>(heads * row_blocks), kThreads, StateShared(kQ, 16, Np),
                      [&] { StateKernel<kQ, 16>(a, w, first, state_in, p.final_out); });
    } else {
      emulate::Launch(static_cast<int>(heads * row_blocks), kThreads, StateShared(kQ / 2, 32, Np),
                      [&] { StateKernel<kQ / 2, 32>(a, w, first, state_in, p.final_out); });
    }
    emulate::Launch(static_cast<int>(records * column_blocks), kThreads, kOutputShared, [&] { OutputKernel(a, w, first); });
  }
  char what[100];
  snprintf(what, sizeof what, "chunked scan (walk of %d rows, segments of %lld chunks)", walk_rows,
           static_cast<long long>(per_segment));
  return p.Report(what);
}

}  // namespace

int ChunkedCases() {
  int failed = 0;
  failed += Chunked({1, 200, 2, 40, 1, 16, false, true, true, true, false}, 2, true);
  failed += Chunked({1, 260, 2, 70, 2, 60, true, true, true, true, true}, 1, false);
  failed += Chunked({1, 130, 2, 16, 2, 128, false, false, false, false, false}, 1, true);
  return failed;
}

}  // namespace ssd_emulated
