// longseq-bench --backend cuda in a build without nvcc.
#include <stdio.h>

#include "bench/bench.h"

namespace ls_bench {

int RunCudaBench(double, const std::string&, std::vector<Result>*, std::string*) {
  fprintf(stderr, "cuda: longseq-bench was built without CUDA (nvcc was not found when it was built)\n");
  return 1;
}

}  // namespace ls_bench
