// This process's registration (its member slot) in a shared-memory queue.
#pragma once

#include "core/layout.hpp"

#include <atomic>
#include <cstdint>

namespace pysyncq::shm {

// This process's registration as a waiting thread sees it: captured once under the
// handle's mutex, so a close by another thread cannot pull it away mid-wait.
struct Registration {
  core::MemberSlot *slot = nullptr;
  std::uint32_t index = 0;
  int pid = 0;

  // Under the queue lock: false once a close or a forced reap freed the slot.
  // Called without the lock too (a reader waiting for a message): relaxed loads, and the
  // pid through atomic_ref, since a joiner reusing the slot stores it under the lock
  // meanwhile (MemberTable::join). A stale answer is caught at the next look.
  bool still_ours() const noexcept {
    return slot != nullptr && slot->state.load(std::memory_order_relaxed) == core::kSlotActive &&
           std::atomic_ref<std::int32_t>(slot->pid).load(std::memory_order_relaxed) == pid;
  }
};

} // namespace pysyncq::shm
