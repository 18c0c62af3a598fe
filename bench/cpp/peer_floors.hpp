// The floors: the least a process-to-process handoff can cost here.
//   futex  a payload slot plus a sequence word; the reader sleeps in FUTEX_WAIT at once,
//          the writer always FUTEX_WAKEs (floor for a queue that sleeps when idle)
//   spin   the same slot, the reader spins on the word (floor for a cross-core handoff)
//   pipe   two pipes, length-prefixed (what a kernel-mediated channel costs)
//   spin ring  a broadcast ring of fixed slots, readers spin, the writer waits for the
//          slowest (floor for fanout throughput)
// Plus memcpy bandwidth per payload size (the ceiling of fanout bytes/s).
#pragma once

#include "harness.hpp"

#include <climits>
#include <linux/futex.h>
#include <sys/syscall.h>

namespace bench {

namespace floors {

inline constexpr std::size_t kMaxPayload = 64 * 1024 + 64;

inline void futex_wait(std::atomic<std::uint32_t> &word, std::uint32_t expected) {
  syscall(SYS_futex, reinterpret_cast<std::uint32_t *>(&word), FUTEX_WAIT, expected, nullptr,
          nullptr, 0);
}
inline void futex_wake(std::atomic<std::uint32_t> &word) {
  syscall(SYS_futex, reinterpret_cast<std::uint32_t *>(&word), FUTEX_WAKE, INT_MAX, nullptr,
          nullptr, 0);
}

// One direction of a ping-pong: a payload slot and a sequence word.
struct Slot {
  alignas(64) std::atomic<std::uint32_t> sequence{0};
  std::size_t size = 0;
  alignas(64) char data[kMaxPayload];
};
struct SlotPair {
  Slot ping;
  Slot pong;
};

template <bool kSleep> class SlotSide {
public:
  SlotSide(Slot &out, Slot &in) : out_(&out), in_(&in) {}
  void send(const char *data, std::size_t n) {
    std::memcpy(out_->data, data, n);
    out_->size = n;
    // Release: the payload above before the new sequence (the reader acquires it).
    out_->sequence.fetch_add(1, std::memory_order_release);
    if constexpr (kSleep) {
      futex_wake(out_->sequence);
    }
  }
  std::size_t recv(char *out) {
    for (;;) {
      const std::uint32_t now = in_->sequence.load(std::memory_order_acquire);
      if (now != seen_) {
        seen_ = now;
        break;
      }
      if constexpr (kSleep) {
        futex_wait(in_->sequence, now);
      } else {
        cpu_relax();
      }
    }
    std::memcpy(out, in_->data, in_->size);
    return in_->size;
  }

private:
  Slot *out_;
  Slot *in_;
  std::uint32_t seen_ = 0;
};

class PipeSide {
public:
  PipeSide(int out, int in) : out_(out), in_(in) {}
  void send(const char *data, std::size_t n) {
    const std::uint64_t length = n;
    write_all(&length, sizeof length);
    write_all(data, n);
  }
  std::size_t recv(char *out) {
    std::uint64_t length = 0;
    read_all(&length, sizeof length);
    read_all(out, length);
    return length;
  }

private:
  void write_all(const void *data, std::size_t n) {
    const char *p = static_cast<const char *>(data);
    while (n > 0) {
      const ssize_t done = ::write(out_, p, n);
      if (done <= 0) {
        die("pipe write failed");
      }
      p += done;
      n -= static_cast<std::size_t>(done);
    }
  }
  void read_all(void *data, std::size_t n) {
    char *p = static_cast<char *>(data);
    while (n > 0) {
      const ssize_t done = ::read(in_, p, n);
      if (done <= 0) {
        die("pipe read failed");
      }
      p += done;
      n -= static_cast<std::size_t>(done);
    }
  }
  int out_;
  int in_;
};

// Broadcast ring: kSlots fixed slots of `slot_bytes`; a reader's cursor is its next
// position; the writer may use position p once every cursor is past p - kSlots.
struct RingHeader {
  static constexpr int kMaxReaders = 16;
  alignas(64) std::atomic<std::uint64_t> tail{0};
  struct alignas(64) Cursor {
    std::atomic<std::uint64_t> position{0};
  } cursors[kMaxReaders];
  int readers = 0;
  std::size_t slot_bytes = 0;
};
inline constexpr std::uint64_t kRingSlots = 1024;

class SpinRingMemory {
public:
  explicit SpinRingMemory(std::size_t payload) {
    slot_bytes_ = (payload + sizeof(std::uint64_t) + 63) / 64 * 64;
    bytes_ = sizeof(RingHeader) + slot_bytes_ * kRingSlots;
    memory_ = mmap(nullptr, bytes_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (memory_ == MAP_FAILED) {
      die("mmap of the spin ring failed");
    }
    header()->slot_bytes = slot_bytes_;
  }
  ~SpinRingMemory() { munmap(memory_, bytes_); }
  SpinRingMemory(const SpinRingMemory &) = delete;
  SpinRingMemory &operator=(const SpinRingMemory &) = delete;
  void reset(int readers) {
    header()->~RingHeader();
    new (memory_) RingHeader();
    header()->readers = readers;
    header()->slot_bytes = slot_bytes_;
  }
  RingHeader *header() const { return static_cast<RingHeader *>(memory_); }
  char *slot(std::uint64_t position) const {
    return static_cast<char *>(memory_) + sizeof(RingHeader) +
           (position % kRingSlots) * slot_bytes_;
  }

private:
  void *memory_ = nullptr;
  std::size_t bytes_ = 0;
  std::size_t slot_bytes_ = 0;
};

class SpinRingWriter {
public:
  explicit SpinRingWriter(const SpinRingMemory &ring) : ring_(&ring) {}
  void send(const char *data, std::size_t n) {
    RingHeader &h = *ring_->header();
    // Wait until the slowest reader has left the slot we are about to overwrite.
    while (tail_ - slowest_ >= kRingSlots) {
      std::uint64_t slowest = tail_;
      for (int r = 0; r < h.readers; ++r) {
        slowest = std::min(slowest, h.cursors[r].position.load(std::memory_order_acquire));
      }
      slowest_ = slowest;
      if (tail_ - slowest_ >= kRingSlots) {
        cpu_relax();
      }
    }
    char *slot = ring_->slot(tail_);
    const std::uint64_t length = n;
    std::memcpy(slot, &length, sizeof length);
    std::memcpy(slot + sizeof length, data, n);
    ++tail_;
    h.tail.store(tail_, std::memory_order_release); // pairs with the reader's acquire
  }

private:
  const SpinRingMemory *ring_;
  std::uint64_t tail_ = 0;
  std::uint64_t slowest_ = 0;
};

class SpinRingReader {
public:
  SpinRingReader(const SpinRingMemory &ring, int index) : ring_(&ring), index_(index) {}
  std::size_t recv(char *out) {
    RingHeader &h = *ring_->header();
    while (known_tail_ == position_) {
      known_tail_ = h.tail.load(std::memory_order_acquire);
      if (known_tail_ == position_) {
        cpu_relax();
      }
    }
    const char *slot = ring_->slot(position_);
    std::uint64_t length = 0;
    std::memcpy(&length, slot, sizeof length);
    std::memcpy(out, slot + sizeof length, length);
    ++position_;
    // Release: we are done with the slot (the writer acquires the cursor).
    h.cursors[index_].position.store(position_, std::memory_order_release);
    return length;
  }

private:
  const SpinRingMemory *ring_;
  int index_;
  std::uint64_t position_ = 0;
  std::uint64_t known_tail_ = 0;
};

} // namespace floors

// The floors' ping-pongs at one size (main_core interleaves them with ours per size, so
// that a change of the machine's state during the run hits every contender alike).
inline void bench_floors_at(const Options &options, std::size_t size) {
  using namespace floors;
  {
    if (options.wants("futex")) {
      Shared<SlotPair> pair;
      run_pingpong(
          options, "futex", size, [&] { return SlotSide<true>(pair->ping, pair->pong); },
          [&] { return SlotSide<true>(pair->pong, pair->ping); });
    }
    if (options.wants("busy-spin")) {
      Shared<SlotPair> pair;
      run_pingpong(
          options, "busy-spin", size, [&] { return SlotSide<false>(pair->ping, pair->pong); },
          [&] { return SlotSide<false>(pair->pong, pair->ping); });
    }
    if (options.wants("pipe")) {
      int there[2];
      int back[2];
      if (pipe(there) != 0 || pipe(back) != 0) {
        die("pipe failed");
      }
      run_pingpong(
          options, "pipe", size, [&] { return PipeSide(there[1], back[0]); },
          [&] { return PipeSide(back[1], there[0]); });
      for (const int fd : {there[0], there[1], back[0], back[1]}) {
        close(fd);
      }
    }
  }
}

inline void bench_spin_ring_fanout(const Options &options) {
  using namespace floors;
  if (!options.wants("spin-ring")) {
    return;
  }
  for (const std::size_t size : options.fanout_sizes()) {
    SpinRingMemory ring(size);
    for (const int readers : options.fanout_readers()) {
      ring.reset(readers);
      run_fanout(
          options, "spin-ring", size, readers, false,
          [&](int) { return SpinRingWriter(ring); },
          [&](int r) { return SpinRingReader(ring, r); }, [&] { ring.reset(readers); });
    }
  }
}

// memcpy of one payload, in cache, source and destination at different offsets within a
// page (as a queue should lay them out) and, for contrast, at the same offset.
inline void bench_memcpy(const Options &options) {
  if (!options.wants("memcpy")) {
    return;
  }
  const std::vector<std::size_t> sizes = {2, 16, 64, 256, 4096, 65536};
  constexpr std::size_t kPage = 4096;
  std::vector<char> source_memory(2 * 65536 + 2 * kPage, 's');
  std::vector<char> target_memory(2 * 65536 + 2 * kPage, 't');
  const auto page_aligned = [&](std::vector<char> &memory) {
    auto address = reinterpret_cast<std::uintptr_t>(memory.data());
    return memory.data() + ((kPage - address % kPage) % kPage);
  };
  char *source = page_aligned(source_memory);
  char *target_base = page_aligned(target_memory);
  for (const bool aliased : {false, true}) {
    char *target = target_base + (aliased ? 0 : 64 + 8);
    for (const std::size_t size : sizes) {
      if (aliased && size != 4096) {
        continue;
      }
      const std::uint64_t copies = std::max<std::uint64_t>(
          1000, (options.quick ? 500'000'000ULL : 2'000'000'000ULL) / (size + 16));
      std::vector<double> rates;
      for (int run = 0; run < 5; ++run) {
        const auto start = Clock::now();
        for (std::uint64_t i = 0; i < copies / 5; ++i) {
          std::memcpy(target, source, size);
          asm volatile("" : : "r"(target), "r"(source) : "memory");
        }
        const double seconds = seconds_since(start);
        rates.push_back(static_cast<double>(copies / 5) * static_cast<double>(size) / seconds);
      }
      const Summary summary = summarize(rates);
      const char *name = aliased ? "memcpy-same-page-offset" : "memcpy";
      Record("memcpy", name)
          .add("size", static_cast<std::uint64_t>(size))
          .add("bytes_per_s", summary.median)
          .add("ns_per_copy", static_cast<double>(size) / summary.median * 1e9)
          .print();
      char text[160];
      std::snprintf(text, sizeof text, "memcpy   %-24s %6zu B  %8.2f GB/s  %7.1f ns", name, size,
                    summary.median / 1e9, static_cast<double>(size) / summary.median * 1e9);
      progress(text);
    }
  }
}

} // namespace bench
