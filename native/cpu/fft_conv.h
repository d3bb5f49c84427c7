// fftConv's argument checks, shared by the CPU and CUDA entries so both refuse the same calls.
#ifndef LONGSEQ_CPU_FFT_CONV_H_
#define LONGSEQ_CPU_FFT_CONV_H_

#include "longseq/longseq.h"

namespace ls {

// Sizes (1 <= kernel_len <= seqlen <= 2^30), the algorithm and the required pointers (k may be null only when a
// spectrum is given and the direct path is not asked for); each fails with a message naming the argument.
ls_status ValidateFftConv(const ls_fft_conv_params& p);
ls_status ValidateFftConvSpectrum(const ls_fft_conv_spectrum_params& p);

}  // namespace ls

#endif  // LONGSEQ_CPU_FFT_CONV_H_
