// Per-worker scratch memory for the CPU kernels, allocated before a kernel writes anything.
#ifndef LONGSEQ_CPU_SCRATCH_H_
#define LONGSEQ_CPU_SCRATCH_H_

#include <stdint.h>
#include <stdlib.h>

namespace ls {

// `workers` buffers of `floats` floats each, 64-byte aligned (a cache line, and any SIMD width).
class ScratchBuffers {
 public:
  ScratchBuffers(int workers, int64_t floats) {
    stride_ = (floats + 15) / 16 * 16;  // keep every buffer 64-byte aligned
    const uint64_t bytes = static_cast<uint64_t>(stride_) * workers * sizeof(float);
    data_ = static_cast<float*>(aligned_alloc(64, bytes == 0 ? 64 : bytes));
  }
  ~ScratchBuffers() { free(data_); }
  ScratchBuffers(const ScratchBuffers&) = delete;
  ScratchBuffers& operator=(const ScratchBuffers&) = delete;

  bool ok() const { return data_ != nullptr; }
  float* get(int worker) const { return data_ + stride_ * worker; }

 private:
  int64_t stride_;
  float* data_;
};

}  // namespace ls

#endif  // LONGSEQ_CPU_SCRATCH_H_
