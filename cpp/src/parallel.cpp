// The kernels' thread pool (see parallel.h for why it is not OpenMP).
//
// One job at a time. The job's generation and its next unclaimed chunk share one 64-bit atomic,
// so a worker that wakes late can only ever claim chunks of the job it saw published: its
// compare-and-swap fails once the caller has moved on. The caller moves the state on *before* it
// rewrites the job's fields (to a generation whose chunk index is spent), so that a late worker
// holding the finished job's state never pairs it with the next job's chunk count: it did once,
// claiming a chunk "left over" from a finished job with the next job's fields, which ran that
// chunk twice, ended the call before its chunks did, and wrote through a dead caller's context
// (a segfault in a 9-minute run beside other work). The caller waits for a count of finished
// chunks, never for the workers themselves.
#include "coarsegrain/parallel.h"

#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace coarsegrain::parallel {
namespace {

// More chunks than threads, so a thread that loses its core leaves little work stranded.
constexpr int64_t kChunksPerThread = 4;
// How long an idle worker, and the caller waiting for the last chunks, spin (yielding the core
// to anyone who wants it) before blocking: long enough to catch the next step of a time loop, as
// waking a blocked thread takes 0.1-1 ms on a VM (at 1e-4 s the fused 128^3 CH step ran 1.5x,
// not 2x, faster on 2 threads than on one); OpenMP's default spins several times longer.
constexpr auto kSpin = std::chrono::microseconds(1000);
// A call whose caller waited for other threads' chunks longer than its own share took, plus
// kStallSlack, stalled on a thread that lost its core: the machine is busy. Calls then run on
// the caller alone for a back-off period, after which parallel calls probe again. A stall that
// recurs within a few back-off periods doubles it (up to kMaxBackOff): under steady load a
// stalled probe, about one scheduler time slice (a few ms), comes once a second. Measured beside
// one busy process (4000 200^2 CH steps, 0.16 s): a 10 ms first back-off paid ~10% in probes
// over a short run, 100 ms ~0-7%. The 200 us slack keeps an idle VM's hiccups (a vCPU
// descheduled for ~0.1 ms) from passing for stalls; a false alarm runs 0.1 s on one thread.
constexpr auto kStallSlack = std::chrono::microseconds(200);
constexpr auto kFirstBackOff = std::chrono::milliseconds(100);
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

// The CPUs this process may run on, asked once (a system call).
int available_cpus() {
  static std::atomic<int> cached{0};
  int n = cached.load(std::memory_order_relaxed);
  if (n == 0) {
    cpu_set_t set;
    n = sched_getaffinity(0, sizeof(set), &set) == 0 ? std::max(1, CPU_COUNT(&set))
                                                     : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    cached.store(n, std::memory_order_relaxed);
  }
  return n;
}

std::atomic<int> default_threads{0};  // 0: available_cpus()
std::atomic<int (*)()> threads_source{nullptr};
thread_local bool inside_parallel_call = false;

// Restores inside_parallel_call however the scope is left.
class InsideParallelCall {
 public:
  InsideParallelCall() : outer_(inside_parallel_call) { inside_parallel_call = true; }
  ~InsideParallelCall() { inside_parallel_call = outer_; }

 private:
  bool outer_;
};

// Sleeps injected by tests (set_testing_delays) to widen the pool's races; 0 (no sleep) otherwise.
std::atomic<int64_t> testing_claim_delay{0}, testing_publish_delay{0};  // microseconds

inline void pause_for_testing(const std::atomic<int64_t>& micros) {
  const int64_t us = micros.load(std::memory_order_relaxed);
  if (us > 0) std::this_thread::sleep_for(std::chrono::microseconds(us));
}

class Pool {
 public:
  void run(int64_t n, int64_t nchunks, int threads, ChunkFn fn, void* ctx) {
    using Clock = std::chrono::steady_clock;
    const auto start = Clock::now();
    if (start.time_since_epoch().count() < serial_until_.load(std::memory_order_relaxed) ||
        busy_.test_and_set(std::memory_order_acquire)) {  // backing off, or another thread's call
      run_serial(n, fn, ctx);
      return;
    }
    // Retire the finished job's state first: from here on no claim against it can succeed, so the
    // fields below are never read as the finished job's (see the top of this file).
    const uint64_t retired = (state_.load(std::memory_order_relaxed) >> kIndexBits) + 1;
    state_.store((retired << kIndexBits) | kIndexMask, std::memory_order_seq_cst);
    threads = std::min(threads, 1 + start_workers(threads - 1));
    n_.store(n, std::memory_order_relaxed);
    nchunks_.store(nchunks, std::memory_order_release);  // a worker that sees it sees `retired` too
    fn_.store(fn, std::memory_order_relaxed);
    ctx_.store(ctx, std::memory_order_relaxed);
    participants_.store(threads - 1, std::memory_order_relaxed);
    done_.store(0, std::memory_order_relaxed);
    pause_for_testing(testing_publish_delay);
    const uint64_t gen = retired + 1;
    state_.store(gen << kIndexBits, std::memory_order_seq_cst);  // publishes the fields above
    if (sleeping_workers_.load(std::memory_order_seq_cst) > 0) {
      { std::lock_guard<std::mutex> lock(mutex_); }
      work_cv_.notify_all();
    }
    {
      InsideParallelCall scope;
      work_on(gen);
    }
    const auto own_done = Clock::now();
    // seq_cst on both sides (here and the last fetch_add): with caller_sleeping_ they form a
    // Dekker pair, so the last worker sees the caller asleep or the caller sees the count.
    auto finished = [&] { return done_.load(std::memory_order_seq_cst) == nchunks; };
    if (!spin_until(finished)) {
      std::unique_lock<std::mutex> lock(mutex_);
      caller_sleeping_.store(true, std::memory_order_seq_cst);
      done_cv_.wait(lock, finished);
      caller_sleeping_.store(false, std::memory_order_relaxed);
    }
    const auto end = Clock::now();
    if (end - own_done > (own_done - start) + kStallSlack) {
      const bool recurring = end - last_stall_ < 4 * back_off_;
      back_off_ = recurring ? std::min<Clock::duration>(2 * back_off_, kMaxBackOff) : kFirstBackOff;
      last_stall_ = end;
      serial_until_.store((end + back_off_).time_since_epoch().count(), std::memory_order_relaxed);
    }
    // The first exception a chunk threw (every chunk has finished: nothing still uses ctx).
    std::exception_ptr error = error_;
    error_ = nullptr;
    failed_.store(false, std::memory_order_relaxed);
    busy_.clear(std::memory_order_release);
    if (error) std::rethrow_exception(error);
  }

  static void run_serial(int64_t n, ChunkFn fn, void* ctx) {
    InsideParallelCall scope;
    fn(ctx, 0, n);
  }

 private:
  // Starts workers up to `wanted` (as many as the system allows) and returns how many exist.
  int start_workers(int wanted) {
    while (workers_started_ < wanted) {
      const int index = workers_started_;
      // The worker waits for jobs after the current one: the job about to be published.
      const uint64_t current = state_.load(std::memory_order_relaxed) >> kIndexBits;
      try {
        std::thread([this, index, current] { worker(index, current); }).detach();
      } catch (...) {  // out of threads (a process or cgroup limit): run with those we have
        break;
      }
      ++workers_started_;
    }
    return std::min(workers_started_, wanted);
  }

  // Claims and runs chunks of job `gen` until none is left (or a newer job is out).
  void work_on(uint64_t gen) {
    uint64_t s = state_.load(std::memory_order_acquire);
    for (;;) {
      if ((s >> kIndexBits) != gen) return;
      const int64_t chunk = static_cast<int64_t>(s & kIndexMask);
      pause_for_testing(testing_claim_delay);
      // Job `gen`'s count or a later job's; a later one was stored after `gen` was retired, so the
      // claim below then fails (acquire: that retirement is visible to the compare-and-swap).
      const int64_t nchunks = nchunks_.load(std::memory_order_acquire);
      if (chunk >= nchunks) return;
      if (!state_.compare_exchange_weak(s, s + 1, std::memory_order_acq_rel,
                                        std::memory_order_acquire))
        continue;
      // Job `gen` cannot finish before this chunk does, so its fields are stable here.
      const int64_t n = n_.load(std::memory_order_relaxed);
      if (!failed_.load(std::memory_order_relaxed)) {
        try {  // an exception must not escape a worker (std::terminate) nor skip the count
          fn_.load(std::memory_order_relaxed)(ctx_.load(std::memory_order_relaxed),
                                              chunk * n / nchunks, (chunk + 1) * n / nchunks);
        } catch (...) {
          if (!failed_.exchange(true, std::memory_order_relaxed)) error_ = std::current_exception();
        }
      }
      // Publishes error_ to the caller, which reads it after seeing the final count.
      if (done_.fetch_add(1, std::memory_order_seq_cst) + 1 == nchunks &&
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
      if (index < participants_.load(std::memory_order_relaxed)) {
        work_on(seen);
      } else {  // not needed for this job (fewer threads asked for): no spinning, just wait
        std::unique_lock<std::mutex> lock(mutex_);
        sleeping_workers_.fetch_add(1, std::memory_order_seq_cst);
        work_cv_.wait(lock, [&] { return (state_.load(std::memory_order_seq_cst) >> kIndexBits) != seen; });
        sleeping_workers_.fetch_sub(1, std::memory_order_relaxed);
        seen = state_.load(std::memory_order_acquire) >> kIndexBits;
        if (index < participants_.load(std::memory_order_relaxed)) work_on(seen);
      }
    }
  }

  std::atomic_flag busy_ = ATOMIC_FLAG_INIT;
  std::atomic<uint64_t> state_{0};
  std::atomic<int64_t> n_{0}, nchunks_{0}, done_{0};
  std::atomic<ChunkFn> fn_{nullptr};
  std::atomic<void*> ctx_{nullptr};
  std::atomic<int> participants_{0}, sleeping_workers_{0};
  std::atomic<bool> caller_sleeping_{false};
  std::atomic<bool> failed_{false};
  std::exception_ptr error_;  // written by the first failing chunk, read by the caller
  int workers_started_ = 0;  // touched only by the thread holding busy_
  std::chrono::steady_clock::duration back_off_{0};  // likewise
  std::chrono::steady_clock::time_point last_stall_{};  // likewise
  std::atomic<int64_t> serial_until_{0};  // steady_clock ticks
  std::mutex mutex_;
  std::condition_variable work_cv_, done_cv_;
};

// Never destroyed: workers may still be blocked on the pool's members at exit. A forked child
// (a DataLoader worker) has none of the parent's threads and starts a fresh pool; the atomic
// pointer (not a function-local static, whose guard a fork could leave taken) makes that safe.
std::atomic<Pool*> the_pool{nullptr};
const bool kForkHandler = [] {
  pthread_atfork(nullptr, nullptr, [] { the_pool.store(nullptr, std::memory_order_relaxed); });
  return true;
}();

Pool& current_pool() {
  Pool* pool = the_pool.load(std::memory_order_acquire);
  if (pool == nullptr) {
    Pool* fresh = new Pool();
    if (the_pool.compare_exchange_strong(pool, fresh, std::memory_order_acq_rel))
      pool = fresh;
    else
      delete fresh;  // another thread won; no worker of `fresh` exists yet
  }
  return *pool;
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

void set_testing_delays(int64_t claim_micros, int64_t publish_micros) {
  testing_claim_delay.store(std::max<int64_t>(0, claim_micros), std::memory_order_relaxed);
  testing_publish_delay.store(std::max<int64_t>(0, publish_micros), std::memory_order_relaxed);
}

void run(int64_t n, int64_t grain, ChunkFn fn, void* ctx) {
  if (n <= 0) return;
  grain = std::max<int64_t>(1, grain);
  // More threads than CPUs only ever wait on each other; the cap also bounds the workers.
  const int threads = inside_parallel_call ? 1 : std::min(num_threads(), 4 * available_cpus());
  const int64_t nchunks = std::min<int64_t>({(n + grain - 1) / grain, threads * kChunksPerThread,
                                             int64_t(kIndexMask)});
  if (threads <= 1 || nchunks <= 1) {
    Pool::run_serial(n, fn, ctx);
    return;
  }
  current_pool().run(n, nchunks, static_cast<int>(std::min<int64_t>(threads, nchunks)), fn, ctx);
}

}  // namespace coarsegrain::parallel
