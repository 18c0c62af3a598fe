// The fixture of the contract suite: each TEST_P(Contract, ...) runs once per backend of
// contract_backends() (instantiated in backends_test.cpp), with a Backend of its own.
#pragma once

#include "backend.hpp"

#include <pysyncq/queue.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>

namespace pysyncq::testing {

class Contract : public ::testing::TestWithParam<BackendFactory> {
protected:
  void SetUp() override {
    const std::string reason = GetParam().unavailable();
    if (!reason.empty()) {
      GTEST_SKIP() << reason;
    }
    backend_ = GetParam().start();
  }

  /// A fresh queue name on this test's backend.
  std::string fresh(const std::string &tag) { return backend_->fresh(tag); }

  std::unique_ptr<Backend> backend_;
};

/// Polls `done` every 10 ms until it holds or `timeout` passes. For what a backend does
/// after the call returns (a server applies acks later); on shared memory it holds at once.
inline bool eventually_holds(const std::function<bool()> &done,
                             std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  const auto give_up = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() > give_up) {
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

} // namespace pysyncq::testing
