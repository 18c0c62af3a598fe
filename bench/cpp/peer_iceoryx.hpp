// iceoryx 2.0 (Debian): zero-copy publish/subscribe through RouDi's shared memory. The
// writer loans a chunk, writes the payload (with its length in front) and publishes; the
// reader takes, copies the payload out (as every other peer's recv does) and releases.
// Two ways to wait: polling (take() in a busy loop) and a WaitSet (sleeps on a
// semaphore). RouDi must be running (bench/run.sh starts and stops it).
//
// A process may init the iceoryx runtime once and must not fork after that (the child
// would inherit the parent's registration), so every run forks from a process that has
// not touched iceoryx: main forks one "suite" process per run, which forks the peer and
// only then inits its own runtime.
#pragma once

#include "harness.hpp"

#include "iceoryx_posh/popo/untyped_publisher.hpp"
#include "iceoryx_posh/popo/untyped_subscriber.hpp"
#include "iceoryx_posh/popo/wait_set.hpp"
#include "iceoryx_posh/runtime/posh_runtime.hpp"

namespace bench {

inline void iceoryx_init_runtime(const char *role) {
  iox::log::LogManager::GetLogManager().SetDefaultLogLevel(iox::log::LogLevel::kWarn,
                                                      iox::log::LogLevelOutput::kHideLogLevel);
  const std::string name = std::string("pysyncq-bench-") + role + "-" + std::to_string(getpid());
  iox::runtime::PoshRuntime::initRuntime(
      iox::RuntimeName_t(iox::cxx::TruncateToCapacity, name.c_str()));
}

inline iox::capro::IdString_t iceoryx_id(const std::string &text) {
  return iox::capro::IdString_t(iox::cxx::TruncateToCapacity, text.c_str());
}

class IceoryxSide {
public:
  // `out` / `in`: topic names to publish to / subscribe from (empty: none).
  IceoryxSide(const char *role, const std::string &run, const std::string &out,
              const std::string &in, bool use_waitset, bool blocking)
      : use_waitset_(use_waitset) {
    iceoryx_init_runtime(role);
    if (!out.empty()) {
      iox::popo::PublisherOptions options;
      if (blocking) {
        options.subscriberTooSlowPolicy = iox::popo::ConsumerTooSlowPolicy::WAIT_FOR_CONSUMER;
      }
      publisher_.emplace(
          iox::capro::ServiceDescription{"PysyncqBench", iceoryx_id(run), iceoryx_id(out)},
          options);
    }
    if (!in.empty()) {
      iox::popo::SubscriberOptions options;
      options.queueCapacity = 256;
      if (blocking) {
        options.queueFullPolicy = iox::popo::QueueFullPolicy::BLOCK_PRODUCER;
      }
      subscriber_.emplace(
          iox::capro::ServiceDescription{"PysyncqBench", iceoryx_id(run), iceoryx_id(in)},
          options);
      while (subscriber_->getSubscriptionState() != iox::SubscribeState::SUBSCRIBED) {
        usleep(1000);
      }
      if (use_waitset_) {
        waitset_.emplace();
        if (waitset_->attachState(*subscriber_, iox::popo::SubscriberState::HAS_DATA).has_error()) {
          die("iceoryx: cannot attach the subscriber to a WaitSet");
        }
      }
    }
    if (publisher_) {
      while (!publisher_->hasSubscribers()) {
        usleep(1000);
      }
    }
  }
  IceoryxSide(const IceoryxSide &) = delete;
  IceoryxSide &operator=(const IceoryxSide &) = delete;
  ~IceoryxSide() {
    if (loan_failures_ != 0 && std::getenv("BENCH_DEBUG") != nullptr) {
      std::fprintf(stderr, "iceoryx: %llu loans failed\n",
                   static_cast<unsigned long long>(loan_failures_));
    }
    if (waitset_ && subscriber_) {
      waitset_->detachState(*subscriber_, iox::popo::SubscriberState::HAS_DATA);
    }
  }

  void send(const char *data, std::size_t n) {
    for (;;) {
      auto loaned = publisher_->loan(static_cast<std::uint32_t>(n + sizeof(std::uint64_t)));
      if (loaned.has_error()) {
        ++loan_failures_;
        cpu_relax(); // every chunk in use: wait for readers to release some
        continue;
      }
      void *payload = loaned.value();
      const std::uint64_t length = n;
      std::memcpy(payload, &length, sizeof length);
      std::memcpy(static_cast<char *>(payload) + sizeof length, data, n);
      publisher_->publish(payload);
      return;
    }
  }
  std::size_t recv(char *out) {
    for (;;) {
      auto taken = subscriber_->take();
      if (!taken.has_error()) {
        const void *payload = taken.value();
        std::uint64_t length = 0;
        std::memcpy(&length, payload, sizeof length);
        std::memcpy(out, static_cast<const char *>(payload) + sizeof length, length);
        subscriber_->release(payload);
        return length;
      }
      if (use_waitset_) {
        (void)waitset_->wait();
      } else {
        cpu_relax();
      }
    }
  }

private:
  bool use_waitset_;
  std::uint64_t loan_failures_ = 0;
  iox::cxx::optional<iox::popo::UntypedPublisher> publisher_;
  iox::cxx::optional<iox::popo::UntypedSubscriber> subscriber_;
  iox::cxx::optional<iox::popo::WaitSet<>> waitset_;
};

// Runs `body` in a fresh process that has not initialised iceoryx, and waits for it.
inline void in_suite_process(const std::function<void()> &body) {
  const pid_t suite = fork_child(body);
  if (!wait_children({suite})) {
    progress("iceoryx run failed (see above); going on");
  }
}

inline void bench_iceoryx(const Options &options) {
  children_exit_normally() = true;
  static int counter = 0;
  const auto run_name = [] { return std::to_string(getpid()) + "-" + std::to_string(counter++); };
  for (const bool waitset : {false, true}) {
    const char *contender = waitset ? "iceoryx-waitset" : "iceoryx-polling";
    if (!options.wants(contender)) {
      continue;
    }
    for (const std::size_t size : options.latency_sizes()) {
      const std::string run = run_name();
      in_suite_process([&] {
        run_pingpong(
            options, contender, size,
            [&] { return IceoryxSide("leader", run, "ping", "pong", waitset, false); },
            [&] { return IceoryxSide("echo", run, "pong", "ping", waitset, false); });
      });
    }
  }
  if (options.wants("iceoryx-polling")) {
    Options once = options;
    once.fanout_runs_override = 1;
    for (const std::size_t size : options.fanout_sizes()) {
      for (const int readers : options.fanout_readers()) {
        const std::string run = run_name();
        in_suite_process([&] {
          run_fanout(
              once, "iceoryx-polling", size, readers, true,
              [&](int) { return IceoryxSide("writer", run, "data", "", false, true); },
              [&](int) { return IceoryxSide("reader", run, "", "data", false, true); });
        });
      }
    }
  }
}

} // namespace bench
