// Checks shared by the crash tests: whole-capacity probes, draining with byte checks,
// waiting (by handshake on the queue's own state, not by sleeping a guessed time) until a
// member is asleep.
#pragma once

#include "pysyncq/queue.hpp"
#include "support/checked_message.hpp"
#include "support/processes.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

namespace pysyncq::testing {

/// A body that makes the message take exactly the whole ring (for `sender` and `type`).
inline std::string whole_capacity_body(const Queue &queue, std::string_view type) {
  const std::uint64_t fixed = Queue::footprint(queue.sender().size(), type.size(), 0);
  // footprint rounds up to 8; capacity is a multiple of 8, so this is exact.
  const std::uint64_t unpadded = 16 + queue.sender().size() + type.size();
  EXPECT_LE(fixed, queue.capacity_bytes());
  std::string body(queue.capacity_bytes() - unpadded, 'w');
  EXPECT_EQ(Queue::footprint(queue.sender().size(), type.size(), body.size()),
            queue.capacity_bytes());
  return body;
}

/// Pops every message there is now; each must be a whole checked body. Returns their ids.
inline std::vector<CheckedId> drain_checked(Queue &queue) {
  std::vector<CheckedId> ids;
  while (auto message = queue.pop()) {
    const auto id = parse_checked_body(message->body);
    EXPECT_TRUE(id.has_value()) << "torn or phantom message of " << message->body.size()
                                << " bytes from '" << message->sender << "'";
    if (id) {
      ids.push_back(*id);
    }
  }
  return ids;
}

/// The whole ring can be used, twice in a row: nothing dead still holds back a byte.
/// `queue` must be open and every other member must keep reading (or be gone).
inline void expect_whole_capacity_usable(Queue &queue) {
  while (queue.pop()) {
  }
  const std::string body = whole_capacity_body(queue, "probe");
  for (int round = 0; round < 2; ++round) {
    // A blocking append: it reaps dead members holding back space on its way.
    ASSERT_NO_THROW(queue.append("probe", body, Deadline::after(std::chrono::seconds(10))))
        << "round " << round << ": the whole capacity did not come back";
    const auto message = queue.pop();
    ASSERT_TRUE(message.has_value());
    EXPECT_EQ(message->type, "probe");
    EXPECT_TRUE(message->body == body);
  }
}

/// Waits (polling the queue's member table) until the member with `pid` is asleep in the
/// given way. False after 20 s: the handshake never came.
inline bool wait_until_member_waits(const Queue &queue, int pid, MemberStats::Waiting how) {
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < give_up) {
    for (const MemberStats &member : queue.stats().member_list) {
      if (member.pid == pid && member.waiting == how) {
        return true;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return false;
}

/// Arms the crash point `name` in this (child) process for the calls that follow.
inline void arm_crash_point(const char *name) { set_environment("PYSYNCQ_CRASH_AT", name); }

} // namespace pysyncq::testing
