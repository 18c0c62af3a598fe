// The benchmark harness: fork, pin, hand-shake, time, summarise, print one JSON line per
// result. Google Benchmark times one process; every workload here is several processes
// that must start together, so this small harness replaces it (issue 5).
//
// Every peer is a pair of "sides" made after fork() in each process:
//   struct Side { void send(const char *data, std::size_t n);  // blocks until sent
//                 std::size_t recv(char *out);                  // blocks, returns length };
// A payload whose first byte is kEndMark ends a fanout reader.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <functional>
#include <new>
#include <string>
#include <string_view>
#include <vector>

#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace bench {

using Clock = std::chrono::steady_clock;

inline constexpr char kEndMark = 'E';
inline constexpr char kDataMark = 'D';
inline constexpr char kWarmMark = 'W';
// A child that outlives this many seconds is stuck: SIGALRM ends it (a watchdog).
inline constexpr unsigned kWatchdogSeconds = 120;

inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#endif
}

inline double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

[[noreturn]] inline void die(const std::string &what) {
  std::fprintf(stderr, "bench: %s\n", what.c_str());
  std::fflush(stderr);
  std::_Exit(2);
}

// --- options ---

struct Options {
  bool quick = false;
  std::string only; // run only contenders whose name contains this
  int cpus = 2;     // CPUs used for pinning (0 and 1 by default)
  bool pin = true;
  int fanout_runs_override = 0;         // iceoryx: one run per process (see peer_iceoryx.hpp)
  int pingpong_iterations_override = 0; // NATS: a round trip costs ~1000x shared memory
  std::string suite = "cpp";            // the report's section of every record
  std::string setup;                    // where the transport runs (NATS), when set

  bool wants(std::string_view contender) const {
    return only.empty() || contender.find(only) != std::string_view::npos;
  }
  int pingpong_iterations() const {
    if (pingpong_iterations_override > 0) {
      return pingpong_iterations_override;
    }
    return quick ? 2000 : 10000;
  }
  std::vector<std::size_t> latency_sizes() const {
    return quick ? std::vector<std::size_t>{64, 4096}
                 : std::vector<std::size_t>{16, 64, 256, 4096, 65536};
  }
  std::vector<std::size_t> fanout_sizes() const { return {64, 4096}; }
  std::vector<int> fanout_readers() const {
    return quick ? std::vector<int>{1, 3} : std::vector<int>{1, 3, 7};
  }
  // Messages per fanout run; the run also stops after fanout_seconds().
  std::uint64_t fanout_messages(std::size_t size) const {
    const std::uint64_t full = size <= 256 ? 2'000'000 : 400'000;
    return quick ? full / 4 : full;
  }
  double fanout_seconds() const { return quick ? 0.4 : 0.8; }
  int fanout_runs() const {
    return fanout_runs_override > 0 ? fanout_runs_override : (quick ? 1 : 3);
  }
};

inline Options parse_options(int argc, char **argv) {
  Options options;
  if (const char *quick = std::getenv("QUICK"); quick != nullptr && std::strcmp(quick, "1") == 0) {
    options.quick = true;
  }
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--quick") {
      options.quick = true;
    } else if (arg.rfind("--only=", 0) == 0) {
      options.only = std::string(arg.substr(7));
    } else if (arg == "--no-pin") {
      options.pin = false;
    } else {
      die("unknown option " + std::string(arg) + " (use --quick, --only=NAME, --no-pin)");
    }
  }
  const long online = sysconf(_SC_NPROCESSORS_ONLN);
  options.cpus = online > 0 ? static_cast<int>(online) : 1;
  return options;
}

// --- processes ---

// Pins the calling process to one CPU so that runs repeat (the scheduler would otherwise
// move the two sides of a ping-pong between CPUs at will).
inline void pin_to_cpu(const Options &options, int cpu) {
  if (!options.pin) {
    return;
  }
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu % options.cpus, &set);
  (void)sched_setaffinity(0, sizeof set, &set); // best effort: a cgroup may forbid it
}

// Undoes pin_to_cpu: before starting helper processes (servers) that must not inherit
// the pinning of a client.
inline void unpin(const Options &options) {
  cpu_set_t set;
  CPU_ZERO(&set);
  for (int cpu = 0; cpu < options.cpus; ++cpu) {
    CPU_SET(cpu, &set);
  }
  (void)sched_setaffinity(0, sizeof set, &set);
}

// An object of type T in memory shared by this process and the children it forks.
template <class T> class Shared {
public:
  Shared() {
    void *memory =
        mmap(nullptr, sizeof(T), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (memory == MAP_FAILED) {
      die("mmap of shared state failed");
    }
    object_ = new (memory) T();
  }
  ~Shared() {
    object_->~T();
    munmap(object_, sizeof(T));
  }
  Shared(const Shared &) = delete;
  Shared &operator=(const Shared &) = delete;
  T *operator->() const noexcept { return object_; }
  T &operator*() const noexcept { return *object_; }

private:
  T *object_ = nullptr;
};

// Set by peers whose library must see the process exit normally (iceoryx unregisters
// from RouDi in a static destructor); otherwise children leave by _Exit, so that they do
// not run destructors of objects they inherited from the parent.
inline bool &children_exit_normally() {
  static bool value = false;
  return value;
}

// Runs `body` in a forked child that exits without running the parent's destructors.
inline pid_t fork_child(const std::function<void()> &body) {
  std::fflush(stdout);
  std::fflush(stderr);
  const pid_t pid = fork();
  if (pid < 0) {
    die("fork failed");
  }
  if (pid == 0) {
    alarm(kWatchdogSeconds);
    int code = 0;
    try {
      body();
    } catch (const std::exception &error) {
      std::fprintf(stderr, "bench child %d: %s\n", static_cast<int>(getpid()), error.what());
      code = 1;
    }
    std::fflush(stdout);
    std::fflush(stderr);
    if (children_exit_normally()) {
      std::exit(code);
    }
    std::_Exit(code);
  }
  return pid;
}

// Waits for every child; false if any failed.
inline bool wait_children(const std::vector<pid_t> &pids) {
  bool ok = true;
  for (const pid_t pid : pids) {
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      ok = false;
    }
  }
  return ok;
}

// A count of processes that have arrived, in shared memory; everyone spins (with yields,
// since there may be more processes than CPUs) until all `parties` are there.
struct Gate {
  std::atomic<int> arrived{0};
  void arrive_and_wait(int parties) noexcept {
    arrived.fetch_add(1, std::memory_order_acq_rel);
    while (arrived.load(std::memory_order_acquire) < parties) {
      sched_yield();
    }
  }
};

// Peak resident set of the calling process, KiB (VmHWM).
inline long peak_rss_kib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;
}

// --- statistics and output ---

struct Summary {
  double median = 0, p99 = 0, min = 0, max = 0, mean = 0;
};

inline Summary summarize(std::vector<double> values) {
  Summary summary;
  if (values.empty()) {
    return summary;
  }
  std::sort(values.begin(), values.end());
  const auto at = [&](double q) {
    const auto index = static_cast<std::size_t>(q * static_cast<double>(values.size() - 1) + 0.5);
    return values[std::min(index, values.size() - 1)];
  };
  summary.median = at(0.5);
  summary.p99 = at(0.99);
  summary.min = values.front();
  summary.max = values.back();
  double sum = 0;
  for (const double value : values) {
    sum += value;
  }
  summary.mean = sum / static_cast<double>(values.size());
  return summary;
}

// One result as one JSON line on stdout (bench/report.py reads them).
class Record {
public:
  Record(std::string_view workload, std::string_view contender, std::string_view suite = "cpp") {
    add("suite", suite);
    add("workload", workload);
    add("contender", contender);
  }
  // A record of a workload run with `options`: their suite, and their setup if any.
  Record(std::string_view workload, std::string_view contender, const Options &options)
      : Record(workload, contender, options.suite) {
    if (!options.setup.empty()) {
      add("setup", options.setup);
    }
  }
  Record &add(std::string_view key, std::string_view value) {
    std::string escaped;
    for (const char c : value) {
      if (c == '"' || c == '\\') {
        escaped += '\\';
      }
      escaped += c;
    }
    fields_.push_back("\"" + std::string(key) + "\": \"" + escaped + "\"");
    return *this;
  }
  Record &add(std::string_view key, const char *value) { return add(key, std::string_view(value)); }
  Record &add(std::string_view key, double value) {
    char text[64];
    std::snprintf(text, sizeof text, "%.6g", value);
    fields_.push_back("\"" + std::string(key) + "\": " + text);
    return *this;
  }
  Record &add(std::string_view key, std::uint64_t value) {
    fields_.push_back("\"" + std::string(key) + "\": " + std::to_string(value));
    return *this;
  }
  Record &add(std::string_view key, long value) {
    fields_.push_back("\"" + std::string(key) + "\": " + std::to_string(value));
    return *this;
  }
  Record &add(std::string_view key, int value) {
    fields_.push_back("\"" + std::string(key) + "\": " + std::to_string(value));
    return *this;
  }
  Record &add(std::string_view key, bool value) {
    fields_.push_back("\"" + std::string(key) + "\": " + (value ? "true" : "false"));
    return *this;
  }
  Record &add_values(std::string_view key, const std::vector<double> &values) {
    std::string list = "[";
    for (std::size_t i = 0; i < values.size(); ++i) {
      char text[64];
      std::snprintf(text, sizeof text, "%s%.6g", i == 0 ? "" : ", ", values[i]);
      list += text;
    }
    fields_.push_back("\"" + std::string(key) + "\": " + list + "]");
    return *this;
  }
  void print() const {
    std::string line = "{";
    for (std::size_t i = 0; i < fields_.size(); ++i) {
      line += (i == 0 ? "" : ", ") + fields_[i];
    }
    line += "}\n";
    std::fputs(line.c_str(), stdout);
    std::fflush(stdout);
  }

private:
  std::vector<std::string> fields_;
};

inline void progress(const std::string &text) {
  std::fprintf(stderr, "  %s\n", text.c_str());
  std::fflush(stderr);
}

// The contender as progress lines name it: with its setup when there is one.
inline std::string progress_label(const Options &options, std::string_view contender) {
  return options.setup.empty() ? std::string(contender)
                               : std::string(contender) + " @ " + options.setup;
}

// --- workloads ---

// A payload of `size` bytes whose first byte says what it is.
inline std::vector<char> make_payload(std::size_t size, char mark) {
  std::vector<char> payload(std::max<std::size_t>(size, 1), 'x');
  payload[0] = mark;
  return payload;
}

struct PingPongState {
  Gate ready;
  std::atomic<int> child_failed{0};
};

// Ping-pong: the parent sends `size` bytes, the child sends them back; one sample per
// round trip, one-way time = half of it. Parent pinned to CPU 0, child to CPU 1.
// `make_parent` / `make_child` build each side after the fork.
template <class MakeParent, class MakeChild>
void run_pingpong(const Options &options, std::string_view contender, std::size_t size,
                  MakeParent &&make_parent, MakeChild &&make_child,
                  std::function<void()> after = {}) {
  Shared<PingPongState> state;
  const int iterations = options.pingpong_iterations();
  // Warm-up: a tenth of the iterations and at least 0.2 s, so that every page a peer
  // cycles through (a queue's whole ring, say) has been touched before timing starts;
  // a first touch is a page fault of a microsecond or more.
  const int min_warmup = iterations / 10;
  const auto warmup_time = std::chrono::milliseconds(200);
  const pid_t child = fork_child([&] {
    pin_to_cpu(options, 1);
    auto side = make_child();
    state->ready.arrive_and_wait(2);
    std::vector<char> buffer(std::max<std::size_t>(size, 1) + 64);
    for (;;) { // echo until the parent's end-marked payload (echoed too)
      const std::size_t n = side.recv(buffer.data());
      side.send(buffer.data(), n);
      if (n > 0 && buffer[0] == kEndMark) {
        break;
      }
    }
  });
  pin_to_cpu(options, 0);
  std::vector<double> one_way_us;
  one_way_us.reserve(static_cast<std::size_t>(iterations));
  {
    auto side = make_parent();
    state->ready.arrive_and_wait(2);
    std::vector<char> payload = make_payload(size, kDataMark);
    std::vector<char> buffer(payload.size() + 64);
    const auto round_trip = [&] {
      side.send(payload.data(), payload.size());
      const std::size_t n = side.recv(buffer.data());
      if (n != payload.size()) {
        die(std::string(contender) + ": echo of " + std::to_string(payload.size()) +
            " bytes came back as " + std::to_string(n));
      }
    };
    const auto warmup_start = Clock::now();
    for (int i = 0; i < min_warmup || Clock::now() - warmup_start < warmup_time; ++i) {
      round_trip();
    }
    for (int i = 0; i < iterations; ++i) {
      const auto start = Clock::now();
      round_trip();
      const auto end = Clock::now();
      one_way_us.push_back(std::chrono::duration<double, std::micro>(end - start).count() / 2);
    }
    payload[0] = kEndMark;
    side.send(payload.data(), payload.size());
    (void)side.recv(buffer.data());
    if (!wait_children({child})) {
      die(std::string(contender) + ": pingpong child failed");
    }
  }
  if (after) {
    after();
  }
  const Summary summary = summarize(one_way_us);
  Record("pingpong", contender, options)
      .add("size", static_cast<std::uint64_t>(size))
      .add("median_us", summary.median)
      .add("p99_us", summary.p99)
      .add("min_us", summary.min)
      .add("max_us", summary.max)
      .add("samples", static_cast<std::uint64_t>(one_way_us.size()))
      .add("pinned", options.pin)
      .print();
  char text[160];
  std::snprintf(text, sizeof text, "pingpong %-30s %6zu B  median %8.2f us  p99 %8.2f us",
                progress_label(options, contender).c_str(), size, summary.median, summary.p99);
  progress(text);
}

struct FanoutState {
  static constexpr int kMaxReaders = 16;
  Gate ready;
  std::atomic<int> warmed{0};
  std::atomic<std::uint64_t> received[kMaxReaders];
  std::atomic<std::int64_t> done_ns[kMaxReaders];
  std::atomic<long> reader_rss_kib[kMaxReaders];
  FanoutState() {
    for (int i = 0; i < kMaxReaders; ++i) {
      received[i].store(0);
      done_ns[i].store(0);
      reader_rss_kib[i].store(0);
    }
  }
};

inline std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
      .count();
}

// Fanout: one writer, `readers` readers; the writer sends up to `messages` payloads of
// `size` bytes (blocking when the transport is full) and stops early after the time
// budget; every reader must get every message. Rate = messages / (first send .. last
// reader done). Writer pinned to CPU 0, readers spread over the CPUs from CPU 1 on.
// `make_writer(readers)` / `make_reader(index)` build each side after the fork; a
// transport that drops early messages (PUB/SUB) gets warm-up payloads until every reader
// has seen one (`needs_warmup`).
struct FanoutResult {
  double msgs_per_s = 0;
  double seconds = 0;
  std::uint64_t messages = 0;
  long writer_rss_kib = 0;
  long reader_rss_kib = 0;
};

template <class MakeWriter, class MakeReader>
FanoutResult run_fanout_once(const Options &options, std::string_view contender, std::size_t size,
                             int readers, bool needs_warmup, MakeWriter &&make_writer,
                             MakeReader &&make_reader) {
  Shared<FanoutState> state;
  std::vector<pid_t> children;
  for (int r = 0; r < readers; ++r) {
    children.push_back(fork_child([&, r] {
      pin_to_cpu(options, 1 + r);
      auto side = make_reader(r);
      state->ready.arrive_and_wait(readers + 1);
      std::vector<char> buffer(std::max<std::size_t>(size, 1) + 64);
      bool warmed = false;
      std::uint64_t count = 0;
      for (;;) {
        const std::size_t n = side.recv(buffer.data());
        if (n == 0) {
          continue;
        }
        if (buffer[0] == kWarmMark) {
          if (!warmed) {
            warmed = true;
            state->warmed.fetch_add(1);
          }
          continue;
        }
        if (buffer[0] == kEndMark) {
          break;
        }
        ++count;
      }
      state->done_ns[r].store(now_ns());
      state->received[r].store(count);
      state->reader_rss_kib[r].store(peak_rss_kib());
    }));
  }
  pin_to_cpu(options, 0);
  FanoutResult result;
  std::int64_t start_ns = 0;
  std::uint64_t sent = 0;
  {
    auto side = make_writer(readers);
    state->ready.arrive_and_wait(readers + 1);
    if (needs_warmup) {
      const std::vector<char> warm = make_payload(size, kWarmMark);
      while (state->warmed.load() < readers) {
        side.send(warm.data(), warm.size());
        usleep(1000);
      }
    }
    const std::vector<char> payload = make_payload(size, kDataMark);
    const std::uint64_t limit = options.fanout_messages(size);
    const auto budget = std::chrono::duration<double>(options.fanout_seconds());
    const auto start = Clock::now();
    start_ns =
        std::chrono::duration_cast<std::chrono::nanoseconds>(start.time_since_epoch()).count();
    while (sent < limit) {
      side.send(payload.data(), payload.size());
      ++sent;
      if ((sent & 63) == 0 && Clock::now() - start > budget) {
        break;
      }
    }
    const std::vector<char> end = make_payload(size, kEndMark);
    side.send(end.data(), end.size());
    if (!wait_children(children)) {
      die(std::string(contender) + ": fanout reader failed");
    }
    result.writer_rss_kib = peak_rss_kib();
  }
  std::int64_t last_ns = start_ns;
  for (int r = 0; r < readers; ++r) {
    if (state->received[r].load() != sent) {
      die(std::string(contender) + ": reader " + std::to_string(r) + " got " +
          std::to_string(state->received[r].load()) + " of " + std::to_string(sent) + " messages");
    }
    last_ns = std::max<std::int64_t>(last_ns, state->done_ns[r].load());
    result.reader_rss_kib = std::max(result.reader_rss_kib, state->reader_rss_kib[r].load());
  }
  result.seconds = static_cast<double>(last_ns - start_ns) / 1e9;
  result.messages = sent;
  result.msgs_per_s = result.seconds > 0 ? static_cast<double>(sent) / result.seconds : 0;
  return result;
}

template <class MakeWriter, class MakeReader>
void run_fanout(const Options &options, std::string_view contender, std::size_t size, int readers,
                bool needs_warmup, MakeWriter &&make_writer, MakeReader &&make_reader,
                const std::function<void()> &after = {}) {
  std::vector<double> rates;
  FanoutResult last;
  for (int run = 0; run < options.fanout_runs(); ++run) {
    last =
        run_fanout_once(options, contender, size, readers, needs_warmup, make_writer, make_reader);
    rates.push_back(last.msgs_per_s);
    if (after) {
      after();
    }
  }
  const Summary summary = summarize(rates);
  Record("fanout", contender, options)
      .add("size", static_cast<std::uint64_t>(size))
      .add("readers", readers)
      .add("msgs_per_s", summary.median)
      .add("msgs_per_s_min", summary.min)
      .add("msgs_per_s_max", summary.max)
      .add("bytes_per_s", summary.median * static_cast<double>(size))
      .add("messages", last.messages)
      .add("writer_peak_rss_kib", static_cast<std::uint64_t>(last.writer_rss_kib))
      .add("reader_peak_rss_kib", static_cast<std::uint64_t>(last.reader_rss_kib))
      .add("pinned", options.pin)
      .add_values("runs", rates)
      .print();
  char text[200];
  std::snprintf(text, sizeof text, "fanout   %-30s %6zu B  %d readers  %10.0f msgs/s  %8.1f MB/s",
                progress_label(options, contender).c_str(), size, readers, summary.median,
                summary.median * static_cast<double>(size) / 1e6);
  progress(text);
}

} // namespace bench
