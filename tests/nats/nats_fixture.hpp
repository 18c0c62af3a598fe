// The fixture of the NATS process tests: a fresh nats-server per test (skipped, with the
// reason, when nats-server is not installed), and helpers shared by the test files.
#pragma once

#include "support/nats_server.hpp"

#include <pysyncq/queue.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>

namespace pysyncq::testing {

class NatsTest : public ::testing::Test {
protected:
  void SetUp() override {
    if (nats_server_program().empty()) {
      GTEST_SKIP() << "nats-server is not installed (apt-get install nats-server)";
    }
    servers_ = NatsServers::single();
  }

  /// A URL for a new queue on this test's server.
  std::string fresh(const std::string &tag) const {
    return servers_->url(NatsServers::unique_queue(tag));
  }

  std::unique_ptr<NatsServers> servers_;
};

/// Polls `done` every 10 ms until it holds or `timeout` passes; returns the time taken,
/// or nullopt on timeout. For states the server reaches asynchronously (acks applied).
inline std::optional<std::chrono::milliseconds> eventually(const std::function<bool()> &done,
                                                           std::chrono::milliseconds timeout) {
  const auto start = std::chrono::steady_clock::now();
  for (;;) {
    if (done()) {
      return std::chrono::duration_cast<std::chrono::milliseconds>(
          std::chrono::steady_clock::now() - start);
    }
    if (std::chrono::steady_clock::now() - start > timeout) {
      return std::nullopt;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

} // namespace pysyncq::testing
