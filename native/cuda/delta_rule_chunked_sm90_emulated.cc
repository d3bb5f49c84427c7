// longseq-delta-rule-emulated's third part: delta_rule_chunked_emulated.cc's cases on the paths an sm_90 GPU (an H200)
// takes: the chunk sets by bulk copies that an mbarrier counts (two staged in bf16), q's and k's tiles by tensor maps
// (cuda/emulate.h's, unswizzled). Not its warpgroup products (sm_90a), which the chunked delta rule does not use.
#define __CUDA_ARCH__ 900
#include "cuda/delta_rule_chunked_emulated.cc"
