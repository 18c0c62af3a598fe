// Our queue as a benchmark side: one queue, every process a member that screens its own
// sender (the C++ API does not screen it by default). Pops hand the body to the caller's
// buffer with one copy (try_pop_visit), as every other peer's recv does. A batching
// reader (the "pysyncq-batch" fanout) takes up to kReadBatch messages per pop_many_visit
// (one cursor store and at most one wait per batch) into its own buffer and hands them
// out one recv at a time, as ZeroMQ's receiver drains its pipe in bulk.
#pragma once

#include "harness.hpp"
#include "pysyncq/queue.hpp"

#include <cstring>
#include <optional>
#include <string>
#include <unistd.h>
#include <vector>

namespace bench {

class PysyncqSide {
public:
  // A writer-only side (`writer_only`) still reads: every member must pass over every
  // message, its own included, or it holds their space. It skips its own (screened)
  // messages before each append, as a Python writer would with `for m in q: pass`.
  PysyncqSide(const std::string &name, const std::string &sender, pysyncq::WaitPolicy policy,
              bool writer_only = false, bool batch_reads = false)
      : queue_(pysyncq::Queue::attach(name)), writer_only_(writer_only),
        batch_reads_(batch_reads) {
    queue_.open(sender);
    queue_.screened_senders().insert(sender);
    queue_.set_wait_policy(policy);
  }
  PysyncqSide(PysyncqSide &&) noexcept = default;
  PysyncqSide(const PysyncqSide &) = delete;
  PysyncqSide &operator=(const PysyncqSide &) = delete;
  PysyncqSide &operator=(PysyncqSide &&) = delete;
  ~PysyncqSide() = default; // the Queue closes our registration; the last one unlinks

  void send(const char *data, std::size_t n) {
    if (writer_only_) {
      (void)queue_.try_pop_visit([](const pysyncq::MessageView &) {});
    }
    queue_.append("m", std::string_view(data, n), pysyncq::Deadline::never());
  }
  std::size_t recv(char *out) {
    if (batch_reads_) {
      return recv_batched(out);
    }
    std::size_t n = 0;
    const auto copy_out = [&](const pysyncq::MessageView &view) {
      std::memcpy(out, view.body.data(), view.body.size());
      n = view.body.size();
    };
    while (!queue_.try_pop_visit(copy_out)) {
      queue_.wait_for_message(pysyncq::Deadline::never());
    }
    return n;
  }

private:
  static constexpr std::size_t kReadBatch = 64; // space comes back at the end of a batch

  std::size_t recv_batched(char *out) {
    if (next_ == batch_.size()) {
      batch_.clear();
      next_ = 0;
      const auto keep = [&](const pysyncq::MessageView &view) { batch_.emplace_back(view.body); };
      while (queue_.pop_many_visit(kReadBatch, keep, pysyncq::Deadline::never()) == 0) {
      }
    }
    const std::string &body = batch_[next_++];
    std::memcpy(out, body.data(), body.size());
    return body.size();
  }

  pysyncq::Queue queue_;
  bool writer_only_ = false;
  bool batch_reads_ = false;
  std::vector<std::string> batch_; // a batching reader's messages not yet handed out
  std::size_t next_ = 0;
};

// A unique queue name per run, and the creator's handle (not a member) kept until the
// run ends; `finish()` removes the name should a failed run have left it. `location` is
// "" for shared memory or "nats://host:port/" for a queue on NATS (`replicas` copies).
class PysyncqRun {
public:
  explicit PysyncqRun(std::uint64_t capacity_bytes, const std::string &location = "",
                      int replicas = 1)
      : name_(location + "pysyncq-bench-" + std::to_string(getpid()) + "-" +
              std::to_string(counter()++)),
        creator_(pysyncq::Queue::create(name_,
                                        {.capacity_bytes = capacity_bytes, .replicas = replicas})) {
  }
  const std::string &name() const noexcept { return name_; }
  void finish() {
    try {
      pysyncq::Queue::unlink(name_);
    } catch (const std::exception &) { // NOLINT(bugprone-empty-catch): already gone is fine
    }
  }

private:
  static int &counter() {
    static int value = 0;
    return value;
  }
  std::string name_;
  pysyncq::Queue creator_;
};

struct PolicyVariant {
  const char *contender;
  pysyncq::WaitPolicy policy;
  bool batch_reads = false; // fanout readers pop_many (pingpong has one message at a time)
};

inline std::vector<PolicyVariant> pysyncq_variants() {
  using namespace std::chrono_literals;
  return {{"pysyncq", pysyncq::WaitPolicy{}},
          {"pysyncq-sleep", pysyncq::WaitPolicy::sleep()},
          {"pysyncq-spin", pysyncq::WaitPolicy::spin_only()},
          {"pysyncq-batch", pysyncq::WaitPolicy{}, true}};
}

// One pingpong / fanout of our queue with one wait policy; `location` and `replicas` as
// for PysyncqRun (peer_nats.hpp runs the same workloads on NATS).
inline void pysyncq_pingpong(const Options &options, const PolicyVariant &variant, std::size_t size,
                             const std::string &location = "", int replicas = 1) {
  PysyncqRun run(1 << 20, location, replicas);
  run_pingpong(
      options, variant.contender, size,
      [&] { return PysyncqSide(run.name(), "parent", variant.policy); },
      [&] { return PysyncqSide(run.name(), "child", variant.policy); }, [&] { run.finish(); });
}

inline void pysyncq_fanout(const Options &options, const PolicyVariant &variant, std::size_t size,
                           int readers, const std::string &location = "", int replicas = 1) {
  constexpr std::uint64_t kCapacity = 4 << 20;
  std::optional<PysyncqRun> run;
  const auto make_writer = [&](int) {
    return PysyncqSide(run->name(), "writer", variant.policy, true);
  };
  const auto make_reader = [&](int r) {
    return PysyncqSide(run->name(), "reader-" + std::to_string(r), variant.policy, false,
                       variant.batch_reads);
  };
  // A fresh queue per run: run_fanout calls `after` between runs.
  run.emplace(kCapacity, location, replicas);
  run_fanout(options, variant.contender, size, readers, false, make_writer, make_reader, [&] {
    run->finish();
    run.emplace(kCapacity, location, replicas);
  });
  run->finish();
}

inline void bench_pysyncq_at(const Options &options, std::size_t size) {
  for (const PolicyVariant &variant : pysyncq_variants()) {
    if (options.wants(variant.contender) && !variant.batch_reads) {
      pysyncq_pingpong(options, variant, size);
    }
  }
}

inline void bench_pysyncq_fanout(const Options &options) {
  for (const PolicyVariant &variant : pysyncq_variants()) {
    if (!options.wants(variant.contender)) {
      continue;
    }
    for (const std::size_t size : options.fanout_sizes()) {
      for (const int readers : options.fanout_readers()) {
        pysyncq_fanout(options, variant, size, readers);
      }
    }
  }
}

} // namespace bench
