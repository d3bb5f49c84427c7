// longseq-delta-rule-emulated's fourth part: the chunked rule's walk on warpgroup products (WgmmaStateKernel, bf16 at
// key dim 128, the path an H200 takes with this build's sm_90a code) and its prepare kernel's swizzled records, run on
// the CPU (cuda/emulate.h's wgmma: each product checked again at its wait against its operands as they are then; its
// swizzled tensor maps and bulk tensor stores) against the recurrence in double.
#define __CUDA_ARCH__ 900
#define __CUDA_ARCH_FEAT_SM90_ALL
#include "cuda/delta_rule_chunked_emulated.cc"
