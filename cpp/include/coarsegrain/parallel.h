// The thread pool every CPU kernel runs its parallel loops on (torch-free).
//
// Why not OpenMP: a team of OpenMP threads spins at each barrier and the call ends only when
// every member has arrived. Beside another busy process (often a second torch job, spinning in
// its own OpenMP team) a member that lost its core holds the whole team for a scheduler time
// slice at every barrier: 4000 explicit Cahn-Hilliard steps went from 0.1 s to 47 s. Here:
//   * work is cut into chunks that threads claim one at a time, and a call ends when every
//     chunk is done, not when every thread has arrived: a worker that never got a core simply
//     takes no chunk, and the caller does the work itself;
//   * idle workers spin only briefly (yielding the core) before they block, so back-to-back
//     calls keep their speed on an idle machine and waiting costs nothing on a busy one;
//   * the thread count is asked per call: torch's (at::get_num_threads, set by
//     torch.set_num_threads) in coarsegrain._C, set_default_num_threads in coarsegrain._core.
#pragma once

#include <cstdint>

namespace coarsegrain::parallel {

// Threads the next parallel call on this thread may use (at least 1).
int num_threads();

// The thread count used when no source is installed (coarsegrain._core); n < 1 restores the
// default, the number of CPUs this process may run on.
void set_default_num_threads(int n);

// Installs a function asked for the thread count at every call (coarsegrain._C installs
// at::get_num_threads so that torch.set_num_threads governs the compiled ops too).
void set_num_threads_source(int (*source)());

// Tests only: sleeps, in microseconds, that widen the pool's races: a worker's between reading the
// job state and claiming a chunk, the caller's between writing a job and publishing it. 0: none.
void set_testing_delays(int64_t claim_micros, int64_t publish_micros);

// Runs fn(ctx, begin, end) over consecutive chunks covering [0, n), each of at least `grain`
// items (the last may be shorter), on up to num_threads() threads including the caller; returns
// when all are done. Runs on the caller alone when one chunk suffices, when called from inside
// a parallel call, or while another thread's call holds the pool.
using ChunkFn = void (*)(void* ctx, int64_t begin, int64_t end);
void run(int64_t n, int64_t grain, ChunkFn fn, void* ctx);

}  // namespace coarsegrain::parallel
