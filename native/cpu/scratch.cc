#include "cpu/scratch.h"

#include <stdlib.h>

#include <mutex>
#include <vector>

#if defined(__linux__) && !defined(__EMSCRIPTEN__)
#include <sys/mman.h>
#define LS_HUGE_PAGES 1
#endif

namespace ls {
namespace {

constexpr uint64_t kHugePage = uint64_t{2} << 20;
constexpr uint64_t kScratchCacheBytes = uint64_t{512} << 20;

struct Block {
  void* data;
  uint64_t bytes;  // rounded to kHugePage
};

struct Cache {
  std::mutex mutex;
  std::vector<Block> blocks;  // oldest first
  uint64_t total = 0;
};

Cache& GetCache() {
  static Cache* cache = new Cache;  // leaked: outlives every worker thread
  return *cache;
}

uint64_t Rounded(uint64_t bytes) { return (bytes + kHugePage - 1) / kHugePage * kHugePage; }

}  // namespace

void* AcquireScratch(uint64_t bytes) {
#ifdef __EMSCRIPTEN__
  // WASM memory never returns to the host, and there is no page-fault cost to save: no cache.
  return aligned_alloc(64, bytes == 0 ? 64 : (bytes + 63) / 64 * 64);
#endif
  if (bytes < kHugePage) return aligned_alloc(64, bytes == 0 ? 64 : (bytes + 63) / 64 * 64);
  const uint64_t rounded = Rounded(bytes);
  {
    Cache& cache = GetCache();
    std::lock_guard<std::mutex> lock(cache.mutex);
    // The smallest cached block that fits, if it is not more than twice the size (no waste of big blocks).
    int best = -1;
    for (int i = 0; i < static_cast<int>(cache.blocks.size()); ++i) {
      const uint64_t size = cache.blocks[i].bytes;
      if (size >= rounded && size <= 2 * rounded && (best < 0 || size < cache.blocks[best].bytes)) best = i;
    }
    if (best >= 0) {
      void* data = cache.blocks[best].data;
      cache.total -= cache.blocks[best].bytes;
      cache.blocks.erase(cache.blocks.begin() + best);
      return data;
    }
  }
  void* data = aligned_alloc(kHugePage, rounded);
#ifdef LS_HUGE_PAGES
  if (data) madvise(data, rounded, MADV_HUGEPAGE);
#endif
  return data;
}

void ReleaseScratch(void* block, uint64_t bytes) {
  if (!block) return;
#ifdef __EMSCRIPTEN__
  free(block);
  return;
#endif
  if (bytes < kHugePage) {
    free(block);
    return;
  }
  const uint64_t rounded = Rounded(bytes);
  std::vector<void*> evicted;
  {
    Cache& cache = GetCache();
    std::lock_guard<std::mutex> lock(cache.mutex);
    if (rounded > kScratchCacheBytes) {
      evicted.push_back(block);
    } else {
      cache.blocks.push_back({block, rounded});
      cache.total += rounded;
      while (cache.total > kScratchCacheBytes) {
        evicted.push_back(cache.blocks.front().data);
        cache.total -= cache.blocks.front().bytes;
        cache.blocks.erase(cache.blocks.begin());
      }
    }
  }
  for (void* data : evicted) free(data);
}

}  // namespace ls
