// Per-worker scratch memory for the CPU kernels, allocated before a kernel writes anything.
#ifndef LONGSEQ_CPU_SCRATCH_H_
#define LONGSEQ_CPU_SCRATCH_H_

#include <stdint.h>

#include "cpu/status.h"

namespace ls {

// Large blocks (>= 2 MiB) come from a small process-wide cache of recently released blocks, 2 MiB-aligned
// and advised for transparent huge pages. Why: the FFT's scratch is 50 MiB at L = 2^17, and fresh memory
// costs a page fault per 4 KiB on first touch (~11 us each on the virtual machines we run on: 140 ms per call,
// more than the FFT) and then the kernel's zeroing of every page. Huge pages cut the faults 512-fold and the
// cache removes them, and the zeroing, for repeated calls. The cache holds at most kScratchCacheBytes.
void* AcquireScratch(uint64_t bytes);
void ReleaseScratch(void* block, uint64_t bytes);

// `workers` buffers of `floats` floats each, 64-byte aligned (a cache line, and any SIMD width).
class ScratchBuffers {
 public:
  ScratchBuffers(int workers, int64_t floats) {
    stride_ = (floats + 15) / 16 * 16;  // keep every buffer 64-byte aligned
    bytes_ = static_cast<uint64_t>(stride_) * workers * sizeof(float);
    data_ = static_cast<float*>(AcquireScratch(bytes_));
  }
  ~ScratchBuffers() { ReleaseScratch(data_, bytes_); }
  ScratchBuffers(const ScratchBuffers&) = delete;
  ScratchBuffers& operator=(const ScratchBuffers&) = delete;

  bool ok() const { return data_ != nullptr; }
  // LS_OK, or the out-of-memory status and message every op gives when its scratch could not be had.
  ls_status Check() const { return ok() ? LS_OK : Fail(LS_OUT_OF_MEMORY, "out of memory for scratch buffers"); }
  float* get(int worker) const { return data_ + stride_ * worker; }

 private:
  int64_t stride_;
  uint64_t bytes_;
  float* data_;
};

}  // namespace ls

#endif  // LONGSEQ_CPU_SCRATCH_H_
