// Whom an append wakes, through real processes (docs/design.md, "Waking only who wants a
// message"): a reader asleep in pop stays asleep while others append only messages it
// screens out, and wakes for the first one it wants. Linux only: elsewhere every wake
// reaches every sleeper, which the design allows.
#include "support/processes.hpp"

#include <pysyncq/queue.hpp>

#include <gtest/gtest.h>

#include <sys/resource.h>

#include <string>

using namespace std::chrono_literals;
using pysyncq::Deadline;
using pysyncq::MemberStats;
using pysyncq::Queue;
using pysyncq::WaitPolicy;
using namespace pysyncq::testing;

namespace {

// Times this thread gave up its CPU of its own accord: each sleep in the kernel is one.
long voluntary_switches_of_this_thread() {
  rusage usage{};
  getrusage(RUSAGE_THREAD, &usage);
  return usage.ru_nvcsw;
}

// Whether the member `sender` is asleep for a message, as stats() shows it, within 20 s.
bool wait_until_asleep(Queue &queue, const std::string &sender) {
  const Deadline deadline = Deadline::after(20s);
  while (!deadline.has_passed()) {
    for (const MemberStats &member : queue.stats().member_list) {
      if (member.sender == sender && member.waiting == MemberStats::Waiting::kForMessage) {
        return true;
      }
    }
    std::this_thread::yield();
  }
  return false;
}

TEST(WakeFilter, AReaderSleepsThroughMessagesItScreensOutAndWakesForTheOneItWants) {
  NameGuard name(unique_name("wakefilter"));
  constexpr int kScreened = 200;
  Queue queue = Queue::create(name.name(), {.capacity_bytes = 1 << 20});
  queue.open("writer");
  queue.screened_senders().insert("writer");
  Pipe ready;
  Pipe report;
  Child reader = spawn_child(
      [](const std::string &queue_name, const Pipe &ready, const Pipe &report) {
        Queue mine = Queue::attach(queue_name);
        mine.open("reader");
        mine.screened_types().insert("noise");
        mine.set_wait_policy(WaitPolicy::sleep()); // every wait a sleep: no spin to hide in
        const long before = voluntary_switches_of_this_thread();
        ready.send('R');
        const auto message = mine.pop(Deadline::after(60s));
        const long switches = voluntary_switches_of_this_thread() - before;
        if (!message || message->type != "wanted" || message->body != "at last") {
          return 3;
        }
        report.send_text(std::to_string(switches));
        mine.close();
        return 0;
      },
      name.name(), ready, report);
  ASSERT_TRUE(ready.expect('R'));
  // One screened message at a time, each after the reader is seen asleep: a reader woken
  // by each (layout 4 and before) sleeps again in between, once per message.
  for (int i = 0; i < kScreened; ++i) {
    ASSERT_TRUE(wait_until_asleep(queue, "reader")) << "message " << i;
    ASSERT_TRUE(queue.try_append("noise", "n" + std::to_string(i)));
  }
  ASSERT_TRUE(wait_until_asleep(queue, "reader"));
  ASSERT_TRUE(queue.try_append("wanted", "at last"));
  std::string switches;
  ASSERT_TRUE(report.receive_line(switches, 60s));
  EXPECT_EQ(reader.wait(), 0);
  // Woken for none of the 200: what is left are its naps (one per 100 ms of the run) and
  // the wake for the wanted message. Being woken for each would make it 200 or more.
  EXPECT_LT(std::stol(switches), kScreened / 2) << "voluntary context switches of the reader";
}

} // namespace
