// fork_generation() (platform/liveness.hpp) where fork() exists: Linux and macOS.
#include "platform/liveness.hpp"

#include <atomic>
#include <pthread.h>

namespace pysyncq::platform {

namespace {
// Relaxed: read and written by the one thread that exists in a fresh child, and read
// by handles in the same process only.
std::atomic<std::uint64_t> fork_counter{0};
void bump_fork_counter() noexcept { fork_counter.fetch_add(1, std::memory_order_relaxed); }
const int atfork_registered = ::pthread_atfork(nullptr, nullptr, &bump_fork_counter);
} // namespace

std::uint64_t fork_generation() noexcept {
  (void)atfork_registered;
  return fork_counter.load(std::memory_order_relaxed);
}

} // namespace pysyncq::platform
