// Per-worker scratch memory for the CPU kernels, allocated before a kernel writes anything.
#ifndef LONGSEQ_CPU_SCRATCH_H_
#define LONGSEQ_CPU_SCRATCH_H_

#include <stdint.h>
#include <stdlib.h>

#ifdef __linux__
#include <sys/mman.h>
#endif

namespace ls {

// `workers` buffers of `floats` floats each, 64-byte aligned (a cache line, and any SIMD width).
class ScratchBuffers {
 public:
  ScratchBuffers(int workers, int64_t floats) {
    stride_ = (floats + 15) / 16 * 16;  // keep every buffer 64-byte aligned
    const uint64_t bytes = static_cast<uint64_t>(stride_) * workers * sizeof(float);
    if (bytes < kHugePage) {
      data_ = static_cast<float*>(aligned_alloc(64, bytes == 0 ? 64 : bytes));
      return;
    }
    // Large scratch (the FFT's: 50 MiB at L = 2^17) is fresh memory on every call, and on the virtual machines
    // we run on each first touch of a 4 KiB page costs ~11 us: 140 ms of faults per call, more than the FFT
    // itself. 2 MiB-aligned memory advised for transparent huge pages faults 512x less often.
    const uint64_t rounded = (bytes + kHugePage - 1) / kHugePage * kHugePage;
    data_ = static_cast<float*>(aligned_alloc(kHugePage, rounded));
#ifdef __linux__
    if (data_) madvise(data_, rounded, MADV_HUGEPAGE);
#endif
  }
  ~ScratchBuffers() { free(data_); }
  ScratchBuffers(const ScratchBuffers&) = delete;
  ScratchBuffers& operator=(const ScratchBuffers&) = delete;

  bool ok() const { return data_ != nullptr; }
  float* get(int worker) const { return data_ + stride_ * worker; }

 private:
  static constexpr uint64_t kHugePage = uint64_t{2} << 20;
  int64_t stride_;
  float* data_;
};

}  // namespace ls

#endif  // LONGSEQ_CPU_SCRATCH_H_
