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

/// What nats-server 2.9 charges for one of our messages, worked out here independently
/// of src/nats, and the granule the queue pads it to. Headers: "NATS/1.0\r\n" +
/// "Pysyncq-Sender: S\r\n" + "Pysyncq-Type: T\r\n" + "Nats-Msg-Id: <20 chars>\r\n" +
/// "\r\n"; then the store's framing (memory 16 + subject; file 22 + subject + 4 and an
/// 8-byte checksum). The pad header "Pysyncq-Pad: V\r\n" takes 15 + |V| bytes, |V| >= 1.
struct PredictedCharge {
  std::uint64_t unpadded = 0;
  std::uint64_t granule = 0; // overhead + 1: the queue's granule when it divides the capacity
  std::uint64_t charged = 0; // unpadded rounded up to whole granules
};
/// `capacity`: the capacity asked for, when not a multiple of overhead + 1; the granule is
/// then the smallest divisor of it in (overhead, 2 * (overhead + 1)], if any (docs/nats.md).
inline PredictedCharge predicted_charge(bool file, const std::string &queue, std::size_t sender,
                                        std::size_t type, std::size_t body,
                                        std::uint64_t capacity = 0) {
  const std::uint64_t subject = std::string("pysyncq.").size() + queue.size();
  const std::uint64_t headers =
      10 + (16 + sender + 2) + (type == 0 ? 0 : 14 + type + 2) + (13 + 20 + 2) + 2;
  const std::uint64_t overhead = file ? 22 + subject + 4 + 8 : 16 + subject;
  PredictedCharge charge;
  charge.unpadded = overhead + headers + body;
  charge.granule = overhead + 1;
  for (std::uint64_t granule = overhead + 1; capacity != 0 && granule <= 2 * (overhead + 1);
       ++granule) {
    if (capacity % granule == 0) {
      charge.granule = granule;
      break;
    }
  }
  std::uint64_t pad = (charge.granule - charge.unpadded % charge.granule) % charge.granule;
  while (pad != 0 && pad < 16) {
    pad += charge.granule;
  }
  charge.charged = charge.unpadded + pad;
  return charge;
}

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
