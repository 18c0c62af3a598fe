#include "shm/sleepers.hpp"

#include "platform/clock.hpp"

namespace pysyncq::shm {

void Sleepers::announce(const Registration &me, WaitFor what) const noexcept {
  // seq_cst: the space re-check that follows must not move before it (Dekker with
  // the reader's cursor store then load of space_sleepers).
  count_of(what).fetch_add(1, std::memory_order_seq_cst);
  me.slot->waiting.fetch_add(unit_of(what), std::memory_order_relaxed);
  me.slot->waiting_since_ns.store(platform::monotonic_ns(), std::memory_order_relaxed);
}

void Sleepers::retract(const Registration &me, WaitFor what) const noexcept {
  // A close or reap under the lock may have taken our counts back already.
  if (!me.still_ours()) {
    return;
  }
  const std::uint32_t waiting = me.slot->waiting.load(std::memory_order_relaxed);
  const bool counted = what == WaitFor::kSpace ? core::space_sleepers_of(waiting) != 0
                                               : core::message_sleepers_of(waiting) != 0;
  if (!counted) {
    return;
  }
  me.slot->waiting.fetch_sub(unit_of(what), std::memory_order_relaxed);
  count_of(what).fetch_sub(1, std::memory_order_relaxed);
}

} // namespace pysyncq::shm
