// pysyncq_hotpath: the non-blocking path and the memory of a queue.
//
//   pysyncq_hotpath loop N    N x (try_append + try_pop_visit) in one process, no waiter.
//                             Run under `strace -c` with two N: equal syscall counts mean
//                             none per message (bench/run.sh does it).
//   pysyncq_hotpath memory N  a writer and a reader process move N messages of 4 KiB
//                             through a 1 MiB queue; both report peak RSS after N/100
//                             and after N messages: a queue's memory is its capacity.
//   pysyncq_hotpath open M    the time open() takes on a new queue of M MiB (it maps the
//                             first 64 MiB into this process: docs/design.md, "Lifecycle
//                             races, decided"), median of 5.
#include "harness.hpp"
#include "pysyncq/queue.hpp"

#include <fstream>
#include <vector>

namespace {

long status_kib(const char *field) {
  std::ifstream status("/proc/self/status");
  std::string line;
  const std::string prefix = std::string(field) + ":";
  while (std::getline(status, line)) {
    if (line.rfind(prefix, 0) == 0) {
      return std::strtol(line.c_str() + prefix.size(), nullptr, 10);
    }
  }
  return -1;
}

std::string queue_name(const char *what) {
  return std::string("pysyncq-bench-") + what + "-" + std::to_string(getpid());
}

int loop(std::uint64_t n) {
  const std::string name = queue_name("hotpath");
  pysyncq::Queue queue = pysyncq::Queue::create(name, {.capacity_bytes = 1 << 16});
  queue.open("self");
  const std::string body(64, 'x');
  std::uint64_t popped = 0;
  const auto count = [&](const pysyncq::MessageView &view) { popped += view.body.size(); };
  const auto start = bench::Clock::now();
  for (std::uint64_t i = 0; i < n; ++i) {
    if (!queue.try_append("m", body) || !queue.try_pop_visit(count)) {
      bench::die("non-blocking append/pop failed");
    }
  }
  const double seconds = bench::seconds_since(start);
  queue.close();
  bench::Record("hotpath", "pysyncq")
      .add("size", static_cast<std::uint64_t>(body.size()))
      .add("iterations", n)
      .add("ns_per_append_pop", seconds * 1e9 / static_cast<double>(n))
      .print();
  return popped == n * body.size() ? 0 : 1;
}

int memory(std::uint64_t n) {
  const std::string name = queue_name("memory");
  constexpr std::uint64_t kCapacity = 1 << 20;
  pysyncq::Queue creator = pysyncq::Queue::create(name, {.capacity_bytes = kCapacity});
  bench::Shared<bench::Gate> gate;
  struct Report {
    std::atomic<long> early_hwm{0}, late_hwm{0}, early_rss{0}, late_rss{0};
  };
  bench::Shared<Report> reader_report;
  const std::string body(4096, 'x');
  const pid_t reader = bench::fork_child([&] {
    pysyncq::Queue queue = pysyncq::Queue::attach(name);
    queue.open("reader");
    gate->arrive_and_wait(2);
    pysyncq::Message message;
    std::uint64_t got = 0;
    while (got < n) {
      if (!queue.pop_into(message, pysyncq::Deadline::never())) {
        continue;
      }
      if (++got == n / 100) {
        reader_report->early_hwm = status_kib("VmHWM");
        reader_report->early_rss = status_kib("VmRSS");
      }
    }
    reader_report->late_hwm = status_kib("VmHWM");
    reader_report->late_rss = status_kib("VmRSS");
    queue.close();
  });
  long early_hwm = 0;
  long early_rss = 0;
  {
    pysyncq::Queue queue = pysyncq::Queue::attach(name);
    queue.open("writer");
    queue.screened_senders().insert("writer");
    gate->arrive_and_wait(2);
    for (std::uint64_t i = 0; i < n; ++i) {
      queue.append("m", body, pysyncq::Deadline::never());
      if (i + 1 == n / 100) {
        early_hwm = status_kib("VmHWM");
        early_rss = status_kib("VmRSS");
      }
      // Read our own messages too (screened), so that we do not hold space back.
      pysyncq::Message ignored;
      (void)queue.pop_into(ignored);
    }
    if (!bench::wait_children({reader})) {
      bench::die("memory reader failed");
    }
    queue.close();
  }
  for (const char *role : {"writer", "reader"}) {
    const bool writer = std::string_view(role) == "writer";
    bench::Record("memory", "pysyncq")
        .add("role", role)
        .add("capacity_bytes", kCapacity)
        .add("messages", n)
        .add("message_bytes", static_cast<std::uint64_t>(body.size()))
        .add("peak_rss_kib_after_1pct", writer ? early_hwm : reader_report->early_hwm.load())
        .add("peak_rss_kib_at_end",
             writer ? status_kib("VmHWM") : reader_report->late_hwm.load())
        .add("rss_kib_after_1pct", writer ? early_rss : reader_report->early_rss.load())
        .add("rss_kib_at_end", writer ? status_kib("VmRSS") : reader_report->late_rss.load())
        .print();
  }
  return 0;
}

int open_time(std::uint64_t mebibytes) {
  std::vector<double> milliseconds;
  for (int round = 0; round < 5; ++round) {
    const std::string name = queue_name("open");
    pysyncq::Queue queue = pysyncq::Queue::create(name, {.capacity_bytes = mebibytes << 20});
    const auto start = bench::Clock::now();
    queue.open("self");
    milliseconds.push_back(bench::seconds_since(start) * 1e3);
    queue.close();
  }
  bench::Record("open", "pysyncq")
      .add("capacity_bytes", mebibytes << 20)
      .add("ms_open", bench::summarize(milliseconds).median)
      .print();
  return 0;
}

} // namespace

int main(int argc, char **argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s loop|memory|open N\n", argv[0]);
    return 2;
  }
  const std::uint64_t n = std::strtoull(argv[2], nullptr, 10);
  const std::string_view mode = argv[1];
  try {
    if (mode == "loop") {
      return loop(n);
    }
    if (mode == "memory") {
      return memory(n);
    }
    if (mode == "open") {
      return open_time(n);
    }
  } catch (const std::exception &error) {
    std::fprintf(stderr, "pysyncq_hotpath: %s\n", error.what());
    return 1;
  }
  std::fprintf(stderr, "unknown mode %s\n", argv[1]);
  return 2;
}
