// longseq-ssd-scan-emulated's fifth part: ssd_scan_chunked_bf16_emulated.cc's cases on the paths an H200 takes with
// this build's sm_90a code: the walk and the outputs on warpgroup products (wgmma), their tiles by swizzled tensor maps,
// y stored by them (cuda/emulate.h's: each product checked again at its wait against its operands as they are then).
#define __CUDA_ARCH__ 900
#define __CUDA_ARCH_FEAT_SM90_ALL
#include "cuda/ssd_scan_chunked_bf16_emulated.cc"
