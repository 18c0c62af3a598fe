// A process-local mutex that a forked child can use: made anew in the child.
#pragma once

#include "platform/liveness.hpp"

#include <cstdint>
#include <mutex>
#include <new>

namespace pysyncq::shm {

// Serialises one handle's threads. Made anew in a forked child: another thread of the
// parent (the notifier's, say) may have held it at the fork, and would never release it
// there. Only the child's first thread gets to the remaking (a fork copies one thread).
class ForkSafeMutex {
public:
  std::mutex &get() const noexcept {
    const std::uint64_t generation = platform::fork_generation();
    if (generation_ != generation) { // only the child's first thread gets here
      new (&mutex_) std::mutex;
      generation_ = generation;
    }
    return mutex_;
  }

private:
  mutable std::mutex mutex_;
  mutable std::uint64_t generation_ = platform::fork_generation();
};

} // namespace pysyncq::shm
