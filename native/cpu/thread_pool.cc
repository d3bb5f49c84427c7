#include "cpu/thread_pool.h"

#include "longseq/longseq.h"

#if defined(__EMSCRIPTEN__) && !defined(__EMSCRIPTEN_PTHREADS__)
#define LS_SINGLE_THREADED 1
#endif

#ifndef LS_SINGLE_THREADED
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>
#endif

namespace ls {

#ifdef LS_SINGLE_THREADED

int HardwareThreads() { return 1; }

int ParallelWorkers(int64_t, int) { return 1; }

void ParallelFor(int64_t count, int, TaskRef task) {
  for (int64_t i = 0; i < count; ++i) task(i, 0);
}

#else

// Counted once: std::thread::hardware_concurrency() reads /sys on every call (glibc's get_nprocs), three
// system calls that cost more than a small kernel on the virtual machines we measure on.
static int CountHardwareThreads() {
  const unsigned n = std::thread::hardware_concurrency();
#ifdef __EMSCRIPTEN__
  // The WASM module starts min(8, cores) workers with itself (CMakeLists.txt): the pool may not use more.
  constexpr unsigned kWasmMaxThreads = 8;
  if (n > kWasmMaxThreads) return kWasmMaxThreads;
#endif
  return n == 0 ? 1 : static_cast<int>(n);
}

int HardwareThreads() {
  static const int threads = CountHardwareThreads();
  return threads;
}

namespace {

// How long a thread polls for work (a worker) or for its helpers to finish (a caller) before it sleeps on a
// condition variable. Why: a model's decode step is a chain of small ops, each a ParallelFor of a few tens of
// microseconds, and waking a sleeping thread costs about as much on the virtual machines we measure on (a
// futex wake, and the hypervisor's wake of an idle vCPU). Polling a little keeps a busy chain of calls on hot
// threads; an idle process pays at most this much CPU time per call.
constexpr auto kSpin = std::chrono::microseconds(100);

inline void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

// Polls `ready` for up to kSpin; whether it became true.
template <class Ready>
bool SpinUntil(Ready ready) {
  const auto deadline = std::chrono::steady_clock::now() + kSpin;
  for (int i = 0;; ++i) {
    if (ready()) return true;
    CpuRelax();
    if ((i & 63) == 63 && std::chrono::steady_clock::now() > deadline) return false;
  }
}

// One ParallelFor call. Tasks are claimed through `next`, so whichever threads join, each index runs once
// and on exactly one thread; results never depend on how many threads took part.
struct Job {
  Job(TaskRef t, int64_t n) : task(t), count(n) {}
  TaskRef task;
  int64_t count;
  std::atomic<int64_t> next{0};
  std::atomic<int64_t> finished{0};
  std::atomic<int> joined{0};  // worker indices handed out; the caller is 0
  int helpers_wanted;  // workers that may still join (guarded by the pool mutex)

  void Work(int worker) {
    for (int64_t i; (i = next.fetch_add(1)) < count;) {
      task(i, worker);
      finished.fetch_add(1, std::memory_order_release);
    }
  }
};

class Pool {
 public:
  explicit Pool(int workers) {
    for (int i = 0; i < workers; ++i) threads_.emplace_back([this] { WorkerLoop(); });
  }

  ~Pool() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    wake_workers_.notify_all();
    for (auto& t : threads_) t.join();
  }

  void Run(int64_t count, int workers, TaskRef task) {
    auto job = std::make_shared<Job>(task, count);
    job->helpers_wanted = workers - 1;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      queue_.push_back(job);
      queued_.store(static_cast<int>(queue_.size()), std::memory_order_release);
    }
    for (int i = 1; i < workers; ++i) wake_workers_.notify_one();
    job->Work(0);
    SpinUntil([&] { return job->finished.load(std::memory_order_acquire) == count; });
    std::unique_lock<std::mutex> lock(mutex_);
    // Helper slots not yet taken never will be: withdraw the job so no worker joins it late.
    for (auto it = queue_.begin(); it != queue_.end(); ++it) {
      if (*it == job) {
        queue_.erase(it);
        queued_.store(static_cast<int>(queue_.size()), std::memory_order_release);
        break;
      }
    }
    job_done_.wait(lock, [&] { return job->finished.load(std::memory_order_acquire) == count; });
  }

 private:
  void WorkerLoop() {
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
      if (queue_.empty() && !stopping_) {
        lock.unlock();
        SpinUntil([&] { return queued_.load(std::memory_order_acquire) != 0; });
        lock.lock();
      }
      wake_workers_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      std::shared_ptr<Job> job = queue_.front();
      if (--job->helpers_wanted == 0) {
        queue_.pop_front();
        queued_.store(static_cast<int>(queue_.size()), std::memory_order_release);
      }
      lock.unlock();
      job->Work(job->joined.fetch_add(1) + 1);
      lock.lock();
      // The caller waits on job_done_ under the same mutex, so this notify cannot be missed.
      if (job->finished.load(std::memory_order_acquire) == job->count) job_done_.notify_all();
    }
  }

  std::mutex mutex_;
  std::condition_variable wake_workers_;
  std::condition_variable job_done_;
  std::deque<std::shared_ptr<Job>> queue_;
  std::atomic<int> queued_{0};  // queue_.size(), for polling without the mutex
  std::vector<std::thread> threads_;
  bool stopping_ = false;
};

Pool& GlobalPool() {
  // Leaked on purpose: worker threads must not be joined during static destruction at process exit.
  static Pool* pool = new Pool(HardwareThreads() - 1);
  return *pool;
}

}  // namespace

int ParallelWorkers(int64_t count, int threads) {
  const int hw = HardwareThreads();
  if (threads <= 0 || threads > hw) threads = hw;
  return count < threads ? (count < 1 ? 1 : static_cast<int>(count)) : threads;
}

void ParallelFor(int64_t count, int threads, TaskRef task) {
  if (count <= 0) return;
  const int workers = ParallelWorkers(count, threads);
  if (workers == 1) {
    for (int64_t i = 0; i < count; ++i) task(i, 0);
    return;
  }
  GlobalPool().Run(count, workers, task);
}

#endif  // LS_SINGLE_THREADED

}  // namespace ls

extern "C" int32_t ls_hardware_threads(void) { return ls::HardwareThreads(); }
