// The spin before a blocked call of the shared-memory backend sleeps (WaitPolicy): a fixed
// spin, or the adaptive one of core/spin.hpp (a lease from the queue's header, a spare
// CPU, and a budget learned by this handle). Sleeping is sleepers.hpp's job.
// docs/design.md, "Adaptive waits".
#pragma once

#include "core/layout.hpp"
#include "core/spin.hpp"
#include "deadlines.hpp"
#include "platform/clock.hpp"
#include "pysyncq/deadline.hpp"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <thread>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace pysyncq::shm {

// A spinning waiter looks at the clock only every this many rounds: reading it costs
// about as much as a round, so the spin overshoots by at most a few per cent.
inline constexpr int kSpinRoundsPerClockRead = 64;

// The longest one spin lasts, whatever the policy: a waiter that spins for longer (a
// fixed spin of seconds, spin_only) does so in slices, and between them goes through its
// wait loop's locked look (reaping dead members, moving its own unread messages to its
// backlog, the deadlock check) and Ctrl-C, as a sleeper does at every recheck.
inline constexpr std::chrono::milliseconds kLongestSpin{100};

inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#endif
}

// Spins until `ready()` or `spin` elapses or the deadline passes.
template <class Ready>
bool spin_until(Ready &&ready, std::chrono::nanoseconds spin, Deadline deadline) {
  if (spin.count() <= 0) {
    return false;
  }
  const Deadline spin_end = earlier(Deadline::after(spin), deadline);
  for (;;) {
    for (int round = 0; round < kSpinRoundsPerClockRead; ++round) {
      if (ready()) {
        return true;
      }
      cpu_relax();
    }
    if (spin_end.has_passed()) {
      return ready();
    }
  }
}

// As spin_until, but gives the CPU to any other runnable thread between looks.
template <class Ready>
bool yield_until(Ready &&ready, std::chrono::nanoseconds spin, Deadline deadline) {
  const Deadline spin_end = earlier(Deadline::after(spin), deadline);
  for (;;) {
    if (ready()) {
      return true;
    }
    if (spin_end.has_passed()) {
      return false;
    }
    std::this_thread::yield();
  }
}

/// One handle's spinning: what it learned, and the queue's leases. Thread-safe: the
/// budget is guarded by a flag that is only ever tried, never waited for (a thread that
/// finds it taken spins by the last budget and learns nothing), so a fork while another
/// thread holds it cannot leave the child stuck.
class SpinWait {
public:
  /// The first part of an adaptive spin stays on the CPU; the rest yields between looks.
  static constexpr std::uint64_t kBusySpinNs = 2'000;
  /// How long a waiter that found every lease held watches for one to come free.
  static constexpr std::uint64_t kLeaseWaitNs = 1'000;

  explicit SpinWait(core::SegmentHeader &header) noexcept
      : header_(header), leases_(header.spin_leases, lease_count()) {}

  /// One blocked call: spin() once, then sleep if it returns false; the destructor
  /// teaches the budget how long the call waited and whether the spin caught it.
  class Round {
  public:
    explicit Round(SpinWait &owner) noexcept : owner_(owner), start_ns_(platform::monotonic_ns()) {}
    Round(const Round &) = delete;
    Round &operator=(const Round &) = delete;
    ~Round() {
      if (!adaptive_) {
        return;
      }
      const std::uint64_t end_ns = platform::monotonic_ns();
      std::uint64_t event_ns = end_ns;
      if (!caught_) {
        // Woken: the waker stamped when it woke us, so our own wake-up latency does not
        // count. A stamp from before this wait (we woke by the recheck timer, say) does
        // not tell: then the whole wait counts.
        const std::uint64_t woken_ns = owner_.header_.last_wake_ns.load(std::memory_order_relaxed);
        if (woken_ns >= start_ns_ && woken_ns <= end_ns) {
          event_ns = woken_ns;
        }
      }
      owner_.learn(event_ns - start_ns_, caught_);
    }

    template <class Ready> bool spin(Ready &&ready, const WaitPolicy &policy, Deadline deadline) {
      if (!policy.adaptive) {
        return spin_until(ready, std::min<std::chrono::nanoseconds>(policy.spin, kLongestSpin),
                          deadline);
      }
      adaptive_ = true;
      const std::uint64_t spin_ns = owner_.budget(policy);
      if (spin_ns == 0 || !owner_.cpu_is_spare()) {
        return false;
      }
      const std::uint64_t until_ns = start_ns_ + spin_ns;
      int lease = owner_.leases_.try_take(start_ns_, until_ns);
      if (lease < 0) {
        // Every lease is held. In a ping-pong the holder is usually the partner we just
        // answered: it gives its lease back as soon as it sees our message, a few hundred
        // ns from now, and sleeping at once would cost us a futex wake-up (~10 µs) for
        // every round trip. So watch for a lease (and our own event) a moment longer.
        // Only a waiter with a CPU to spare gets here, and only for kLeaseWaitNs.
        const auto lease_or_ready = [&] {
          if (ready()) {
            return true;
          }
          lease = owner_.leases_.try_take(start_ns_, until_ns);
          return lease >= 0;
        };
        if (!spin_until(lease_or_ready, std::chrono::nanoseconds(kLeaseWaitNs), deadline)) {
          return false; // as many spin as there are CPUs to spare: sleep
        }
        if (lease < 0) {
          caught_ = true; // the event came while we watched for a lease
          return true;
        }
      }
      // First on the CPU (the answer often comes within a microsecond or two), then
      // yielding it between looks: on a machine busy with other programs, the process
      // we wait for may need this CPU, and a pure spin would keep it from running.
      const std::uint64_t busy_ns = std::min<std::uint64_t>(spin_ns, kBusySpinNs);
      caught_ = spin_until(ready, std::chrono::nanoseconds(busy_ns), deadline) ||
                (spin_ns > busy_ns &&
                 yield_until(ready, std::chrono::nanoseconds(spin_ns - busy_ns), deadline));
      owner_.leases_.give_back(lease, until_ns);
      return caught_;
    }

  private:
    SpinWait &owner_;
    std::uint64_t start_ns_;
    bool adaptive_ = false;
    bool caught_ = false;
  };

private:
  static unsigned cpus() noexcept {
    static const unsigned count = std::thread::hardware_concurrency();
    return count;
  }
  static std::uint32_t lease_count() noexcept {
    return core::spin_lease_count(cpus(), core::kSpinLeaseSlots);
  }
  bool cpu_is_spare() const noexcept {
    // Relaxed: counts for a guess; a stale one costs one spin or one early sleep.
    const std::uint32_t sleepers = header_.message_sleepers.load(std::memory_order_relaxed) +
                                   header_.space_sleepers.load(std::memory_order_relaxed);
    return core::cpu_is_spare(header_.member_count.load(std::memory_order_relaxed), sleepers,
                              cpus());
  }

  std::uint64_t budget(const WaitPolicy &policy) noexcept {
    const auto cap = static_cast<std::uint64_t>(std::max<std::int64_t>(policy.spin.count(), 0));
    // Acquire/release: the flag guards budget_ (the body of a tiny lock).
    if (busy_.test_and_set(std::memory_order_acquire)) {
      return std::min(cap, last_ns_.load(std::memory_order_relaxed));
    }
    if (cap != budget_cap_ns_) {
      budget_ = core::SpinBudget(cap); // the policy changed: learn again
      budget_cap_ns_ = cap;
    }
    const std::uint64_t spin_ns = budget_.next();
    last_ns_.store(budget_.budget_ns(), std::memory_order_relaxed); // a hint, see above
    busy_.clear(std::memory_order_release);
    return spin_ns;
  }

  void learn(std::uint64_t waited_ns, bool caught) noexcept {
    if (busy_.test_and_set(std::memory_order_acquire)) {
      return; // another thread is learning: this round is not needed
    }
    if (caught) {
      budget_.ended_spinning(waited_ns);
    } else {
      budget_.ended_sleeping(waited_ns);
    }
    last_ns_.store(budget_.budget_ns(), std::memory_order_relaxed);
    busy_.clear(std::memory_order_release);
  }

  core::SegmentHeader &header_;
  core::SpinLeases leases_;
  std::atomic_flag busy_;
  core::SpinBudget budget_{0};
  std::uint64_t budget_cap_ns_ = 0;
  std::atomic<std::uint64_t> last_ns_{0};
};

} // namespace pysyncq::shm
