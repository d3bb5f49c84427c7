#include "cpu/fft.h"

#include <math.h>

#include <map>
#include <memory>
#include <mutex>
#include <new>

namespace ls {

namespace {

std::unique_ptr<FftPlan> MakePlan(int64_t n) {
  std::unique_ptr<FftPlan> plan(new (std::nothrow) FftPlan);
  if (!plan) return nullptr;
  plan->n = n;
  plan->m = n / 2;
  const int64_t m = plan->m;
  try {
    plan->w_re.resize(m);
    plan->w_im.resize(m);
    plan->r_re.resize(m + 1);
    plan->r_im.resize(m + 1);
  } catch (const std::bad_alloc&) {
    return nullptr;
  }
  const double pi = 3.14159265358979323846;
  for (int64_t j = 0; j < m; ++j) {
    const double angle = -2.0 * pi * static_cast<double>(j) / static_cast<double>(m);
    plan->w_re[j] = static_cast<float>(cos(angle));
    plan->w_im[j] = static_cast<float>(sin(angle));
  }
  for (int64_t k = 0; k <= m; ++k) {
    const double angle = -2.0 * pi * static_cast<double>(k) / static_cast<double>(n);
    plan->r_re[k] = static_cast<float>(cos(angle));
    plan->r_im[k] = static_cast<float>(sin(angle));
  }
  return plan;
}

}  // namespace

const FftPlan* GetFftPlan(int64_t n) {
  // Recursive: a four-step plan asks for the plans of its sub-transforms while the lock is held.
  static std::recursive_mutex mutex;
  static std::map<int64_t, std::unique_ptr<FftPlan>>* plans = new std::map<int64_t, std::unique_ptr<FftPlan>>;
  std::lock_guard<std::recursive_mutex> lock(mutex);
  auto it = plans->find(n);
  if (it != plans->end()) return it->second.get();
  std::unique_ptr<FftPlan> plan = MakePlan(n);
  if (!plan) return nullptr;
  if (plan->m >= kFourStepPlanMin) {
    int64_t m1 = 1;
    while (m1 * m1 < plan->m) m1 *= 2;  // m1 = 2^ceil(log2(m) / 2), m2 = m / m1
    plan->cols = GetFftPlan(2 * m1);
    plan->rows = GetFftPlan(2 * (plan->m / m1));
    if (!plan->cols || !plan->rows) return nullptr;
  }
  const FftPlan* result = plan.get();
  (*plans)[n] = std::move(plan);
  return result;
}

int64_t FftConvSize(int64_t seqlen, int64_t kernel_len) {
  const int64_t needed = seqlen + kernel_len - 1;
  int64_t n = 2;
  while (n < needed) n *= 2;
  return n;
}

}  // namespace ls
