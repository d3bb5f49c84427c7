// The one thread pool every CPU op shares.
#ifndef LONGSEQ_CPU_THREAD_POOL_H_
#define LONGSEQ_CPU_THREAD_POOL_H_

#include <stdint.h>

#include <type_traits>

namespace ls {

// A non-owning reference to a callable `void(int64_t task, int worker)`: no allocation, so a kernel call
// cannot fail (or, in WASM, abort) on the way into the pool.
class TaskRef {
 public:
  // Excludes TaskRef itself, so copies copy the reference instead of wrapping it.
  template <class F, class = std::enable_if_t<!std::is_same_v<std::decay_t<F>, TaskRef>>>
  TaskRef(F& f) : object_(&f), call_([](void* o, int64_t i, int w) { (*static_cast<F*>(o))(i, w); }) {}
  void operator()(int64_t task, int worker) const { call_(object_, task, worker); }

 private:
  void* object_;
  void (*call_)(void*, int64_t, int);
};

// How many workers ParallelFor(count, threads, ...) uses: `threads` (<= 0: all hardware threads), capped by
// the hardware and by `count`. Kernels size their per-worker scratch with it.
int ParallelWorkers(int64_t count, int threads);

// Runs task(i, worker) for every i in [0, count) on ParallelWorkers(count, threads) threads, the calling
// thread included; `worker` in [0, workers) is unique among the tasks running at the same moment, so it can
// index per-worker scratch. Returns when every task has finished. Tasks must not throw.
// Safe to call from several threads at once: concurrent calls share the pool's threads.
void ParallelFor(int64_t count, int threads, TaskRef task);

// Threads the pool can use at most (hardware concurrency; 1 in a single-threaded WASM build).
int HardwareThreads();

}  // namespace ls

#endif  // LONGSEQ_CPU_THREAD_POOL_H_
