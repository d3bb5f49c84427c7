// Highway's runtime target selection, without linking libhwy.
//
// HWY_DYNAMIC_DISPATCH needs hwy::SupportedTargets() and hwy::GetChosenTarget(), which live in libhwy's
// targets.cc. Debian ships libhwy only as a shared library; we define the two here (header-only Highway) so
// the addon and the bench have no runtime dependency on libhwy.so and the same code builds for WASM.
#include "hwy/highway.h"
#include "hwy/targets.h"

namespace hwy {

int64_t SupportedTargets() {
  int64_t targets = HWY_STATIC_TARGET;  // what the compiler flags already guarantee
#if HWY_ARCH_X86 && (defined(__GNUC__) || defined(__clang__))
  __builtin_cpu_init();
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
                    __builtin_cpu_supports("bmi") && __builtin_cpu_supports("bmi2");
  if (__builtin_cpu_supports("sse4.2") && __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("aes")) {
    targets |= HWY_SSE4 | HWY_SSSE3;
  }
  if (avx2 && __builtin_cpu_supports("f16c")) targets |= HWY_AVX2;
  if (avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512bw")) {
    targets |= HWY_AVX3;
  }
#endif
  return targets | HWY_SCALAR | HWY_EMU128;
}

ChosenTarget& GetChosenTarget() {
  static ChosenTarget chosen;
  return chosen;
}

}  // namespace hwy

extern "C" const char* ls_simd_target(void) {
#if defined(__wasm_relaxed_simd__)
  return "WASM relaxed-SIMD";  // Highway names the target WASM; this build adds fused multiply-adds
#else
  const int64_t usable = hwy::SupportedTargets() & HWY_TARGETS;
  // Lowest set bit = the best target compiled in and supported by this CPU.
  return hwy::TargetName(usable & -usable);
#endif
}
