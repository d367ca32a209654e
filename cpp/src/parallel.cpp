// The kernels' thread pool (see parallel.h for why it is not OpenMP).
//
// One job at a time. The job's generation and its next unclaimed chunk share one 64-bit atomic,
// so a worker that wakes late can only ever claim chunks of the job it saw published: its
// compare-and-swap fails once the caller has moved on. The caller waits for a count of finished
// chunks, never for the workers themselves.
#include "coarsegrain/parallel.h"

#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

namespace coarsegrain::parallel {
namespace {

// More chunks than threads, so a thread that loses its core leaves little work stranded.
constexpr int64_t kChunksPerThread = 4;
// How long an idle worker, and the caller waiting for the last chunks, spin before blocking:
// long enough to catch the next call of a time loop, short enough to cost nothing when busy.
constexpr auto kSpin = std::chrono::microseconds(100);
// A call whose caller waited for other threads' chunks longer than its own share took, plus
// kStallSlack, stalled on a thread that lost its core: the machine is busy. Calls then run on
// the caller alone for a back-off period, after which parallel calls probe again. A stall that
// recurs within a few back-off periods doubles it (up to kMaxBackOff): under steady load a
// stalled probe, about one scheduler time slice (a few ms), comes once a second; on an idle
// machine the wait is a fraction of a chunk, and a rare false alarm costs 10 ms.
constexpr auto kStallSlack = std::chrono::microseconds(50);
constexpr auto kFirstBackOff = std::chrono::milliseconds(10);
constexpr auto kMaxBackOff = std::chrono::milliseconds(1000);
constexpr int kIndexBits = 24;  // chunks per job < 2^24; the other 40 bits count jobs
constexpr uint64_t kIndexMask = (uint64_t(1) << kIndexBits) - 1;

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

// Spins (pausing, then yielding the core to whoever wants it) until done() or kSpin has passed.
template <typename Done>
bool spin_until(Done done) {
  for (int i = 0; i < 64; ++i) {
    if (done()) return true;
    cpu_relax();
  }
  const auto deadline = std::chrono::steady_clock::now() + kSpin;
  do {
    for (int i = 0; i < 16; ++i) {
      if (done()) return true;
      sched_yield();
    }
  } while (std::chrono::steady_clock::now() < deadline);
  return done();
}

int available_cpus() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) return std::max(1, CPU_COUNT(&set));
  return std::max(1u, std::thread::hardware_concurrency());
}

std::atomic<int> default_threads{0};  // 0: available_cpus()
std::atomic<int (*)()> threads_source{nullptr};
thread_local bool inside_parallel_call = false;

class Pool {
 public:
  // Never destroyed: workers may still be blocked on the pool's members at exit.
  static Pool& get() {
    static Pool* pool = make();
    return *pool;
  }

  void run(int64_t n, int64_t nchunks, int threads, ChunkFn fn, void* ctx) {
    using Clock = std::chrono::steady_clock;
    const auto start = Clock::now();
    if (start.time_since_epoch().count() < serial_until_.load(std::memory_order_relaxed) ||
        busy_.test_and_set(std::memory_order_acquire)) {  // backing off, or another thread's call
      run_serial(n, fn, ctx);
      return;
    }
    start_workers(threads - 1);
    n_.store(n, std::memory_order_relaxed);
    nchunks_.store(nchunks, std::memory_order_relaxed);
    fn_.store(fn, std::memory_order_relaxed);
    ctx_.store(ctx, std::memory_order_relaxed);
    participants_.store(threads - 1, std::memory_order_relaxed);
    done_.store(0, std::memory_order_relaxed);
    const uint64_t gen = (state_.load(std::memory_order_relaxed) >> kIndexBits) + 1;
    state_.store(gen << kIndexBits, std::memory_order_seq_cst);  // publishes the fields above
    if (sleeping_workers_.load(std::memory_order_seq_cst) > 0) {
      { std::lock_guard<std::mutex> lock(mutex_); }
      work_cv_.notify_all();
    }
    inside_parallel_call = true;
    work_on(gen);
    const auto own_done = Clock::now();
    auto finished = [&] { return done_.load(std::memory_order_acquire) == nchunks; };
    if (!spin_until(finished)) {
      std::unique_lock<std::mutex> lock(mutex_);
      caller_sleeping_.store(true, std::memory_order_seq_cst);
      done_cv_.wait(lock, finished);
      caller_sleeping_.store(false, std::memory_order_relaxed);
    }
    inside_parallel_call = false;
    const auto end = Clock::now();
    if (end - own_done > (own_done - start) + kStallSlack) {
      const bool recurring = end - last_stall_ < 4 * back_off_;
      back_off_ = recurring ? std::min<Clock::duration>(2 * back_off_, kMaxBackOff) : kFirstBackOff;
      last_stall_ = end;
      serial_until_.store((end + back_off_).time_since_epoch().count(), std::memory_order_relaxed);
    }
    busy_.clear(std::memory_order_release);
  }

  static void run_serial(int64_t n, ChunkFn fn, void* ctx) {
    const bool outer = inside_parallel_call;
    inside_parallel_call = true;
    fn(ctx, 0, n);
    inside_parallel_call = outer;
  }

 private:
  static Pool* make() {
    Pool* pool = new Pool();
    // A forked child (a DataLoader worker) has none of the parent's threads: start afresh.
    pthread_atfork(nullptr, nullptr, [] { fork_reset(); });
    return pool;
  }

  static void fork_reset();

  void start_workers(int wanted) {
    while (static_cast<int>(workers_started_) < wanted) {
      const int index = workers_started_++;
      // The worker waits for jobs after the current one: the job about to be published.
      const uint64_t current = state_.load(std::memory_order_relaxed) >> kIndexBits;
      std::thread([this, index, current] { worker(index, current); }).detach();
    }
  }

  // Claims and runs chunks of job `gen` until none is left (or a newer job is out).
  void work_on(uint64_t gen) {
    uint64_t s = state_.load(std::memory_order_acquire);
    for (;;) {
      if ((s >> kIndexBits) != gen) return;
      const int64_t chunk = static_cast<int64_t>(s & kIndexMask);
      // Read after seeing `gen`; only trusted once the claim below succeeds for `gen`.
      const int64_t nchunks = nchunks_.load(std::memory_order_relaxed);
      if (chunk >= nchunks) return;
      if (!state_.compare_exchange_weak(s, s + 1, std::memory_order_acq_rel,
                                        std::memory_order_acquire))
        continue;
      // Job `gen` cannot finish before this chunk does, so its fields are stable here.
      const int64_t n = n_.load(std::memory_order_relaxed);
      fn_.load(std::memory_order_relaxed)(ctx_.load(std::memory_order_relaxed),
                                          chunk * n / nchunks, (chunk + 1) * n / nchunks);
      if (done_.fetch_add(1, std::memory_order_acq_rel) + 1 == nchunks &&
          caller_sleeping_.load(std::memory_order_seq_cst)) {
        { std::lock_guard<std::mutex> lock(mutex_); }
        done_cv_.notify_one();
      }
      s = state_.load(std::memory_order_acquire);
    }
  }

  void worker(int index, uint64_t seen) {
    inside_parallel_call = true;
    for (;;) {
      auto published = [&] { return (state_.load(std::memory_order_seq_cst) >> kIndexBits) != seen; };
      if (!spin_until(published)) {
        std::unique_lock<std::mutex> lock(mutex_);
        sleeping_workers_.fetch_add(1, std::memory_order_seq_cst);
        work_cv_.wait(lock, published);
        sleeping_workers_.fetch_sub(1, std::memory_order_relaxed);
      }
      seen = state_.load(std::memory_order_acquire) >> kIndexBits;
      if (index < participants_.load(std::memory_order_relaxed)) work_on(seen);
    }
  }

  std::atomic_flag busy_ = ATOMIC_FLAG_INIT;
  std::atomic<uint64_t> state_{0};
  std::atomic<int64_t> n_{0}, nchunks_{0}, done_{0};
  std::atomic<ChunkFn> fn_{nullptr};
  std::atomic<void*> ctx_{nullptr};
  std::atomic<int> participants_{0}, sleeping_workers_{0};
  std::atomic<bool> caller_sleeping_{false};
  int workers_started_ = 0;  // touched only by the thread holding busy_
  std::chrono::steady_clock::duration back_off_{0};  // likewise
  std::chrono::steady_clock::time_point last_stall_{};  // likewise
  std::atomic<int64_t> serial_until_{0};  // steady_clock ticks
  std::mutex mutex_;
  std::condition_variable work_cv_, done_cv_;
};

Pool* fork_child_pool = nullptr;

void Pool::fork_reset() {
  // The parent's pool may be mid-call and its workers do not exist here; leak it.
  fork_child_pool = new Pool();
}

Pool& current_pool() {
  Pool& parent = Pool::get();
  return fork_child_pool != nullptr ? *fork_child_pool : parent;
}

}  // namespace

int num_threads() {
  int (*source)() = threads_source.load(std::memory_order_acquire);
  int n = source != nullptr ? source() : default_threads.load(std::memory_order_relaxed);
  if (n < 1) n = available_cpus();
  return n;
}

void set_default_num_threads(int n) { default_threads.store(n < 1 ? 0 : n, std::memory_order_relaxed); }

void set_num_threads_source(int (*source)()) { threads_source.store(source, std::memory_order_release); }

void run(int64_t n, int64_t grain, ChunkFn fn, void* ctx) {
  if (n <= 0) return;
  grain = std::max<int64_t>(1, grain);
  const int threads = inside_parallel_call ? 1 : num_threads();
  const int64_t nchunks = std::min<int64_t>({(n + grain - 1) / grain, threads * kChunksPerThread,
                                             int64_t(kIndexMask)});
  if (threads <= 1 || nchunks <= 1) {
    Pool::run_serial(n, fn, ctx);
    return;
  }
  current_pool().run(n, nchunks, static_cast<int>(std::min<int64_t>(threads, nchunks)), fn, ctx);
}

}  // namespace coarsegrain::parallel
