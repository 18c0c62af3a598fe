#include "core/spin.hpp"

#include <algorithm>

namespace pysyncq::core {

int SpinLeases::try_take(std::uint64_t now_ns, std::uint64_t until_ns) noexcept {
  for (std::uint32_t index = 0; index < count_; ++index) {
    // Relaxed load: a hint of which word to try; the CAS decides.
    std::uint64_t held_until = words_[index].load(std::memory_order_relaxed);
    // A lease whose time has passed is free: its holder has stopped spinning, or died.
    // Relaxed CAS: a lease guards no data, it only counts spinners.
    if (held_until <= now_ns &&
        words_[index].compare_exchange_strong(held_until, until_ns, std::memory_order_relaxed)) {
      return static_cast<int>(index);
    }
  }
  return -1;
}

void SpinLeases::give_back(int index, std::uint64_t until_ns) noexcept {
  if (index < 0 || static_cast<std::uint32_t>(index) >= count_) {
    return;
  }
  std::uint64_t ours = until_ns;
  // Relaxed: as in try_take. Fails harmlessly when another waiter took the lease after
  // ours ended.
  (void)words_[index].compare_exchange_strong(ours, 0, std::memory_order_relaxed);
}

std::uint32_t spin_lease_count(unsigned cpus, std::uint32_t slots) noexcept {
  return cpus <= 1 ? 0 : std::min<std::uint32_t>(cpus - 1, slots);
}

bool cpu_is_spare(std::uint32_t members, std::uint32_t sleepers, unsigned cpus) noexcept {
  // The caller is a member and awake; a count read while it changes may be off by a few.
  const std::uint32_t others_awake = members > sleepers ? members - sleepers - 1 : 0;
  return others_awake < cpus;
}

SpinBudget::SpinBudget(std::uint64_t cap_ns) noexcept
    : cap_ns_(cap_ns), budget_ns_(std::min(cap_ns, kMinSpinNs * kHeadroom)) {}

std::uint64_t SpinBudget::next() noexcept {
  if (budget_ns_ != 0) {
    return budget_ns_;
  }
  if (++since_probe_ < kProbeEvery) {
    return 0;
  }
  since_probe_ = 0;
  return std::min(cap_ns_, kMinSpinNs);
}

void SpinBudget::ended_spinning(std::uint64_t waited_ns) noexcept {
  // An average over about the last 4 waits: one slow round does not undo what the
  // others taught.
  typical_ns_ = typical_ns_ == 0 ? waited_ns : typical_ns_ - typical_ns_ / 4 + waited_ns / 4;
  budget_ns_ = std::min(cap_ns_, std::max(kMinSpinNs, typical_ns_ * kHeadroom));
}

void SpinBudget::ended_sleeping(std::uint64_t waited_ns) noexcept {
  if (waited_ns <= cap_ns_) {
    ended_spinning(waited_ns);
    return;
  }
  budget_ns_ /= 2;
  if (budget_ns_ < kMinSpinNs) {
    budget_ns_ = 0;
  }
}

} // namespace pysyncq::core
