// longseq-ssd-scan-emulated's fourth part: ssd_scan_chunked_bf16_emulated.cc's cases on the paths an sm_90 GPU takes
// where the build has no sm_90a code (the output kernel's tiles by tensor maps, counted by an mbarrier). An H200 with
// this build's sm_90a code runs the warpgroup-product kernels instead, which the emulation does not cover.
#define __CUDA_ARCH__ 900
#include "cuda/ssd_scan_chunked_bf16_emulated.cc"
