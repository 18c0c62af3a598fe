// A bounded soak: 8 writer processes (each with an appending and a popping thread on one
// handle) and 8 reader processes on one queue, for PYSYNCQ_SOAK_SECONDS (default 10 s,
// 60 s under PYSYNCQ_TORTURE=1). Random sizes across the ring's wrap, random blocking
// and non-blocking appends, random screening by sender and type, random closes and
// re-opens. Every reader checks every message: whole (checksum), in order per writer,
// no duplicate, and no gap except messages its screening skips. At the end every
// writer's last message must reach every reader. Prints messages/s and peak RSS.
// The same program is the ThreadSanitizer stress (build-tsan/).
#include "support/checked_message.hpp"
#include "support/processes.hpp"

#include "pysyncq/queue.hpp"

#include <gtest/gtest.h>

#include <sys/mman.h>
#include <sys/resource.h>

#include <atomic>
#include <cstdio>
#include <map>
#include <memory>
#include <thread>

namespace pysyncq::testing {
namespace {

using namespace std::chrono_literals;

constexpr int kWriters = 8;
constexpr int kReaders = 8;
constexpr int kTypes = 4; // a message's type is "t<seq % 4>", so screening is predictable
constexpr std::uint64_t kCapacity = 16 * 1024;
constexpr std::uint32_t kMaxPayload = 6000; // up to ~37% of the ring: wraps constantly

enum SoakExit : int { kOk = 0, kTorn = 20, kOrder = 21, kGap = 22, kScreened = 23, kStuck = 24 };

struct Control {
  std::atomic<int> stop{0};          // set by the test when the time is up
  std::atomic<int> readers_final{0}; // readers registered for the final phase
};

std::string type_of(std::uint64_t seq) { return "t" + std::to_string(seq % kTypes); }

int soak_seconds() {
  if (const char *text = std::getenv("PYSYNCQ_SOAK_SECONDS"); text != nullptr && *text != 0) {
    return std::atoi(text);
  }
  return torture() ? 60 : 10;
}

bool wait_for(const std::function<bool()> &ready, std::chrono::seconds limit) {
  const auto give_up = std::chrono::steady_clock::now() + limit;
  while (!ready()) {
    if (std::chrono::steady_clock::now() > give_up) {
      return false;
    }
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

int run_writer(Queue &q, int index, std::uint64_t seed, Control &control, const Pipe &report) {
  const std::string sender = "w" + std::to_string(index);
  q.open(sender);
  Random rng(seed);
  std::atomic<bool> done{false};
  std::atomic<int> bad{0};
  // The second thread reads (and checks) everything, so this member never holds space
  // for long; it shares the handle, as a threaded program would.
  std::thread popper([&] {
    Message message;
    while (!done.load()) {
      try {
        if (q.pop_into(message, Deadline::after(5ms)) && !parse_checked_body(message.body)) {
          bad.store(kTorn);
        }
      } catch (const NotOpen &) { // the other thread is between a close and an open
        std::this_thread::sleep_for(1ms);
      }
    }
  });
  const auto stream = static_cast<std::uint32_t>(index);
  std::uint64_t seq = 0;
  std::uint64_t full = 0;
  while (control.stop.load() == 0 && bad.load() == 0) {
    if (rng.chance(1)) {
      q.close(); // a random leave and join: readers see a pause, never a gap
      q.open(sender);
      continue;
    }
    const std::string body =
        make_checked_body(stream, seq, static_cast<std::uint32_t>(rng.below(kMaxPayload)));
    bool appended = false;
    if (rng.chance(50)) {
      appended = q.try_append(type_of(seq), body);
    } else {
      try {
        q.append(type_of(seq), body, Deadline::after(std::chrono::milliseconds(rng.below(50))));
        appended = true;
      } catch (const QueueFull &) {
      }
    }
    if (appended) {
      ++seq;
    } else {
      ++full;
    }
  }
  // Final phase: once every reader is registered for it, the last message says how many
  // there were; every reader must get it and must have missed nothing before it.
  int status = kOk;
  if (!wait_for([&] { return control.readers_final.load() == kReaders; }, 60s)) {
    status = kStuck;
  } else {
    try {
      q.append("end", make_checked_body(stream, seq, 0), Deadline::after(60s));
    } catch (const QueueFull &error) {
      std::fprintf(stderr, "writer %d: final append failed: %s\n", index, error.what());
      status = kStuck;
    }
  }
  done.store(true);
  popper.join();
  q.close();
  report.send_text(std::to_string(seq) + " " + std::to_string(full));
  return bad.load() != 0 ? bad.load() : status;
}

struct ReaderState {
  std::set<std::string> screened_senders;
  std::set<std::uint64_t> screened_types; // seq % kTypes
  std::map<std::uint32_t, std::uint64_t> next_seq; // per writer, in this registration
};

void open_reader(Queue &q, const std::string &sender, Random &rng, ReaderState &state,
                 bool allow_sender_screening) {
  state = ReaderState{};
  q.screened_senders().clear();
  q.screened_types().clear();
  for (int w = 0; w < kWriters; ++w) {
    if (allow_sender_screening && rng.chance(10)) {
      state.screened_senders.insert("w" + std::to_string(w));
      q.screened_senders().insert("w" + std::to_string(w));
    }
  }
  for (std::uint64_t t = 0; t < kTypes; ++t) {
    if (rng.chance(15)) {
      state.screened_types.insert(t);
      q.screened_types().insert(type_of(t));
    }
  }
  q.open(sender);
}

// Checks that every seq in [from, to) is one the screening skips.
bool only_screened_between(const ReaderState &state, std::uint64_t from, std::uint64_t to) {
  if (to - from > kTypes && state.screened_types.size() < kTypes) {
    return false; // a run longer than the types cycle always holds an unscreened one
  }
  for (std::uint64_t s = from; s < to; ++s) {
    if (state.screened_types.count(s % kTypes) == 0) {
      return false;
    }
  }
  return true;
}

int run_reader(Queue &q, int index, std::uint64_t seed, Control &control, const Pipe &report) {
  const std::string sender = "r" + std::to_string(index);
  Random rng(seed);
  ReaderState state;
  open_reader(q, sender, rng, state, true);
  bool final_phase = false;
  int ends = 0;
  std::uint64_t read = 0;
  Message message;
  const auto give_up = std::chrono::steady_clock::now() +
                       std::chrono::seconds(soak_seconds() + 90);
  while (!final_phase || ends < kWriters) {
    if (std::chrono::steady_clock::now() > give_up) {
      std::fprintf(stderr, "reader %d: only %d of %d final messages\n", index, ends, kWriters);
      return kStuck;
    }
    if (!final_phase && control.stop.load() != 0) {
      q.close(); // the final registration screens types only, so every "end" arrives
      open_reader(q, sender, rng, state, false);
      final_phase = true;
      control.readers_final.fetch_add(1);
    } else if (!final_phase && rng.chance(1)) {
      q.close();
      open_reader(q, sender, rng, state, true);
    }
    const Deadline deadline =
        rng.chance(50) ? Deadline::now() : Deadline::after(std::chrono::milliseconds(rng.below(20)));
    if (!q.pop_into(message, deadline)) {
      continue;
    }
    ++read;
    const auto id = parse_checked_body(message.body);
    if (!id || id->stream >= kWriters || message.sender != "w" + std::to_string(id->stream)) {
      std::fprintf(stderr, "reader %d: torn message of %zu bytes\n", index, message.body.size());
      return kTorn;
    }
    if (state.screened_senders.count(message.sender) != 0 ||
        (message.type != "end" && (message.type != type_of(id->seq) ||
                                   state.screened_types.count(id->seq % kTypes) != 0))) {
      std::fprintf(stderr, "reader %d: got %s/%s, which it screens\n", index,
                   message.sender.c_str(), message.type.c_str());
      return kScreened;
    }
    const auto known = state.next_seq.find(id->stream);
    if (known != state.next_seq.end()) {
      if (id->seq < known->second) {
        std::fprintf(stderr, "reader %d: writer %u message %llu after %llu\n", index, id->stream,
                     static_cast<unsigned long long>(id->seq),
                     static_cast<unsigned long long>(known->second - 1));
        return kOrder;
      }
      if (!only_screened_between(state, known->second, id->seq)) {
        std::fprintf(stderr, "reader %d: writer %u messages %llu..%llu lost\n", index,
                     id->stream, static_cast<unsigned long long>(known->second),
                     static_cast<unsigned long long>(id->seq - 1));
        return kGap;
      }
    }
    state.next_seq[id->stream] = id->seq + (message.type == "end" ? 0 : 1);
    if (message.type == "end") {
      ++ends;
    }
  }
  q.close();
  report.send_text(std::to_string(read));
  return kOk;
}

TEST(Soak, WritersAndReadersWithRandomSizesWaitsScreeningAndReopensLoseAndTearNothing) {
  const std::uint64_t seed = test_seed();
  const int seconds = soak_seconds();
  std::printf("soak: %d writers, %d readers, %d s, seed %llu\n", kWriters, kReaders, seconds,
              static_cast<unsigned long long>(seed));
  std::fflush(stdout);
  NameGuard guard(unique_name("soak"));
  auto queue = Queue::create(guard.name(), {.capacity_bytes = kCapacity});

  void *memory = ::mmap(nullptr, sizeof(Control), PROT_READ | PROT_WRITE,
                        MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(memory, MAP_FAILED);
  auto *control = new (memory) Control{};
  const auto watchdog = std::chrono::seconds(seconds + 120);

  Random rng(seed);
  // Every child attaches before any forks: a member that closes while no other is
  // registered removes the name (the last close does), and a child attaching after that
  // would find nothing. The mapping, inherited, stays valid.
  std::vector<Queue> handles;
  for (int i = 0; i < kReaders + kWriters; ++i) {
    handles.push_back(Queue::attach(guard.name()));
  }
  std::vector<std::unique_ptr<Pipe>> reports;
  std::vector<std::unique_ptr<Child>> writers;
  std::vector<std::unique_ptr<Child>> readers;
  for (int i = 0; i < kReaders; ++i) {
    reports.push_back(std::make_unique<Pipe>());
    const std::uint64_t child_seed = rng.next();
    readers.push_back(std::make_unique<Child>(
        [&, i, child_seed] { return run_reader(handles[i], i, child_seed, *control, *reports.back()); },
        watchdog));
  }
  for (int i = 0; i < kWriters; ++i) {
    reports.push_back(std::make_unique<Pipe>());
    const std::uint64_t child_seed = rng.next();
    writers.push_back(std::make_unique<Child>(
        [&, i, child_seed] {
          return run_writer(handles[kReaders + i], i, child_seed, *control, *reports.back());
        },
        watchdog));
  }
  const auto start = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(std::chrono::seconds(seconds)); // the soak's length, not a sync
  control->stop.store(1);

  for (int i = 0; i < kWriters; ++i) {
    EXPECT_EQ(writers[i]->wait(watchdog), kOk) << "writer " << i;
  }
  for (int i = 0; i < kReaders; ++i) {
    EXPECT_EQ(readers[i]->wait(watchdog), kOk) << "reader " << i << " (20 torn, 21 order, "
                                                  "22 gap, 23 screened, 24 stuck)";
  }
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::uint64_t read = 0;
  std::uint64_t appended = 0;
  std::uint64_t full = 0;
  for (std::size_t i = 0; i < reports.size(); ++i) {
    std::string line;
    if (!reports[i]->receive_line(line, 1s)) {
      continue;
    }
    if (i < static_cast<std::size_t>(kReaders)) {
      read += std::stoull(line);
    } else {
      appended += std::stoull(line);
      full += std::stoull(line.substr(line.find(' ') + 1));
    }
  }
  rusage usage{};
  ::getrusage(RUSAGE_CHILDREN, &usage);
  std::printf("soak: %llu appended (%llu refused as full), %llu read by readers: %.0f "
              "appends/s, %.0f reads/s; peak RSS of a child %ld KiB\n",
              static_cast<unsigned long long>(appended), static_cast<unsigned long long>(full),
              static_cast<unsigned long long>(read), static_cast<double>(appended) / elapsed,
              static_cast<double>(read) / elapsed, usage.ru_maxrss);
  EXPECT_GT(appended, 0U);
  EXPECT_GT(read, 0U);

  handles.clear();
  const Stats stats = queue.stats();
  EXPECT_EQ(stats.members, 0U);
  EXPECT_EQ(stats.used_bytes, 0U);
  queue.close();
  EXPECT_FALSE(guard.exists());
  ::munmap(memory, sizeof(Control));
}

} // namespace
} // namespace pysyncq::testing
