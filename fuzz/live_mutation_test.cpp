// Live mutation: a process rewrites random bytes of the header, the member table and the
// ring while member processes attach, open, append, pop, inspect and close (issue 15,
// finding 4). Every call may refuse (a pysyncq::Error), but no member may die by a signal
// (SIGSEGV, SIGBUS: an access outside the segment) or hang past its timer.
//
// Not mutated, by design: the lock's cache line (a process that can write the segment can
// hold the lock for ever; docs/failures.md lists that as a limit) and the file's size
// (ftruncate by a writer is a SIGBUS no mapping can prevent; the same list).
//
// Bounded: PYSYNCQ_MUTATION_SECONDS (default 3; `make torture` gives 60). The seed is
// printed; PYSYNCQ_MUTATION_SEED repeats a run.
#include "core/layout.hpp"
#include "pysyncq/queue.hpp"
#include "support/processes.hpp"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <random>
#include <sched.h>
#include <string>
#include <vector>

namespace pysyncq::testing {
namespace {

using namespace std::chrono_literals;

std::chrono::seconds budget() {
  const char *text = std::getenv("PYSYNCQ_MUTATION_SECONDS");
  return std::chrono::seconds(text != nullptr ? std::atoi(text) : 3);
}

std::uint64_t seed() {
  const char *text = std::getenv("PYSYNCQ_MUTATION_SEED");
  return text != nullptr ? std::strtoull(text, nullptr, 10) : std::random_device{}();
}

// The segment mapped by the test itself before it forks: the mutator inherits the
// mapping, so it goes on even after a close (with a rewritten member count) removed the name.
struct Mapping {
  unsigned char *base = nullptr;
  std::size_t bytes = 0;
};

Mapping map_segment(const std::string &name) {
  Mapping mapping;
  const int fd = ::shm_open(("/" + name).c_str(), O_RDWR | O_CLOEXEC, 0);
  struct stat info {};
  if (fd < 0 || ::fstat(fd, &info) != 0) {
    return mapping;
  }
  mapping.bytes = static_cast<std::size_t>(info.st_size);
  void *base = ::mmap(nullptr, mapping.bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  ::close(fd);
  mapping.base = base == MAP_FAILED ? nullptr : static_cast<unsigned char *>(base);
  return mapping;
}

// The mutator: rewrites random bytes outside the lock's line and keeps each change for a
// few scheduler rounds. Changes to the geometry line (magic, sizes, offsets, state) are
// always put back, or every later attach would refuse and the run would test nothing
// more; a quarter of the others stay (counters, cursors, slot states, records).
int mutate(Mapping segment, std::uint64_t run_seed, Deadline until) {
  if (segment.base == nullptr) {
    return 2;
  }
  std::mt19937_64 random(run_seed);
  const std::size_t lock_begin = offsetof(core::SegmentHeader, lock_storage);
  const std::size_t lock_end = lock_begin + core::kCacheLine;
  // Two thirds of the changes land in the header and the member table, where a wrong
  // number does the most harm; the rest anywhere, the ring included.
  const std::size_t table_end = sizeof(core::SegmentHeader) + 4 * sizeof(core::MemberSlot);
  std::uint64_t changes = 0;
  while (!until.has_passed()) {
    const std::size_t offset =
        random() % 3 != 0 ? random() % table_end : random() % segment.bytes;
    if (offset >= lock_begin && offset < lock_end) {
      continue;
    }
    // Relaxed atomic byte accesses: the members read these bytes concurrently; what they
    // see is the point, not an order.
    std::atomic_ref<unsigned char> byte(segment.base[offset]);
    const unsigned char before = byte.load(std::memory_order_relaxed);
    // Limits, states and counts flip to edge values as often as to garbage.
    static constexpr unsigned char kChoices[] = {0x00, 0x01, 0x02, 0x7f, 0x80, 0xff};
    const unsigned char after = random() % 2 == 0
                                    ? kChoices[random() % sizeof kChoices]
                                    : static_cast<unsigned char>(random());
    byte.store(after, std::memory_order_relaxed);
    ++changes;
    for (int round = 0; round < 8; ++round) {
      ::sched_yield(); // let members run into it (any length will do: not a timing guess)
    }
    if (offset < lock_begin || random() % 4 != 0) {
      byte.store(before, std::memory_order_relaxed);
    }
  }
  std::printf("mutator: %llu changes\n", static_cast<unsigned long long>(changes));
  return 0;
}

// A member: attach, open, append, pop, inspect, close, again, each call with a short
// timer; every pysyncq::Error is an allowed outcome. Returns 0 unless something other
// than a pysyncq::Error was thrown (the Child helper turns that into 99).
int churn(const std::string &name, int id, Deadline until) {
  AttachOptions options;
  options.creator_timeout = 20ms; // a rewritten `state` must not stall each attach 2 s
  options.inspect_lock_timeout = 200ms;
  std::uint64_t calls = 0;
  std::uint64_t refusals = 0;
  while (!until.has_passed()) {
    try {
      Queue queue = Queue::attach(name, options);
      queue.open("m" + std::to_string(id));
      for (int step = 0; step < 50 && !until.has_passed(); ++step) {
        ++calls;
        switch (step % 5) {
        case 0:
        case 1:
          queue.append("t", std::string(static_cast<std::size_t>(step * 7 % 200), 'x'),
                       Deadline::after(10ms));
          break;
        case 2:
        case 3:
          (void)queue.pop(Deadline::after(10ms));
          break;
        default:
          (void)queue.stats();
          (void)queue.reap();
          break;
        }
      }
      queue.close();
    } catch (const Error &) {
      ++refusals; // refused: the allowed outcome of damage
    }
  }
  std::printf("member %d: %llu calls, %llu refusals\n", id, static_cast<unsigned long long>(calls),
              static_cast<unsigned long long>(refusals));
  return 0;
}

TEST(LiveMutation, MembersSurviveAProcessRewritingTheirSegmentWithoutSignalOrHang) {
  const std::uint64_t run_seed = seed();
  std::printf("live mutation: seed %llu (PYSYNCQ_MUTATION_SEED repeats it), %lld s\n",
              static_cast<unsigned long long>(run_seed),
              static_cast<long long>(budget().count()));
  NameGuard guard(unique_name("mutation"));
  // Small, so that damage is met often: 4 slots, a 1 KiB ring. Mode 0600: ours.
  auto creator = Queue::create(guard.name(), {.capacity_bytes = 1024, .max_members = 4});
  creator.open("creator"); // a member for the whole run, so closes keep the name (mostly)
  const Mapping mapping = map_segment(guard.name());
  ASSERT_NE(mapping.base, nullptr);
  const Deadline until = Deadline::after(budget());
  // Each child's watchdog is the budget plus a generous margin: a member stuck past its
  // timers is killed by it and fails the test as a signal, never hangs the suite.
  const auto watchdog = std::chrono::duration_cast<std::chrono::seconds>(budget()) + 30s;
  std::vector<Child> children;
  for (int id = 0; id < 3; ++id) {
    children.emplace_back([&, id] { return churn(guard.name(), id, until); }, watchdog);
  }
  children.emplace_back([&] { return mutate(mapping, run_seed, until); }, watchdog);
  for (std::size_t index = 0; index < children.size(); ++index) {
    const int status = children[index].wait(watchdog + 10s);
    EXPECT_EQ(status, 0) << (index + 1 == children.size() ? "mutator" : "member")
                         << " " << index
                         << (status < 0 ? " died by a signal or was killed by its watchdog"
                                        : " failed")
                         << "; seed " << run_seed;
  }
  ::munmap(mapping.base, mapping.bytes);
  try {
    creator.close();
  } catch (const Error &) { // NOLINT(bugprone-empty-catch): the segment is damaged by
                            // design; the guard removes the name
  }
}

} // namespace
} // namespace pysyncq::testing
