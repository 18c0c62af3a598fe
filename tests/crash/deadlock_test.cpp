// The deadlock the broadcast semantics allow, in the original benchmark's setting:
// 8 processes, 64 KiB messages, a queue of 10 transfers, blocking appends with no
// timeout. Every process appends before it reads, so all of them end up waiting for
// space that only they could free. It must end with pysyncq::Deadlock naming the
// processes, never hang (each child has a watchdog, the test a ctest TIMEOUT).
#include "crash_helpers.hpp"

#include <algorithm>
#include <memory>
#include <sstream>
#include <vector>

namespace pysyncq::testing {
namespace {

using namespace std::chrono_literals;

constexpr int kProcesses = 8;
constexpr std::uint32_t kBodyBytes = 64 * 1024;
constexpr int kMessagesEach = 4; // 32 messages > 10 transfers: appending alone fills it

enum DeadlockExit : int { kCompleted = 0, kNoGo = 3, kReportedDeadlock = 7, kBadReport = 8 };

// A participant (a child of spawn_child). `go` brings the pids of all participants, which
// are known only once every one of them started, as one line: the signal to begin.
int run_participant(const std::string &name, int index, const Pipe &registered, const Pipe &go) {
  auto q = Queue::attach(name);
  q.open("p" + std::to_string(index));
  registered.send('r');
  std::string pid_line;
  if (!go.receive_line(pid_line, 60s)) {
    return kNoGo;
  }
  std::vector<int> pids;
  std::istringstream pid_text(pid_line);
  for (int pid = 0; pid_text >> pid;) {
    pids.push_back(pid);
  }
  try {
    for (int i = 0; i < kMessagesEach; ++i) {
      q.append("bench",
               make_checked_body(static_cast<std::uint32_t>(index), static_cast<std::uint64_t>(i),
                                 kBodyBytes),
               Deadline::never());
    }
  } catch (const Deadlock &error) {
    const std::string what = error.what();
    bool good = what.find("deadlock") != std::string::npos && !error.blocked_pids().empty();
    for (const int pid : error.blocked_pids()) {
      good = good && std::find(pids.begin(), pids.end(), pid) != pids.end();
      good = good && what.find("pid " + std::to_string(pid)) != std::string::npos;
    }
    if (!good) {
      std::fprintf(stderr, "p%d: a Deadlock that does not name the processes: %s\n", index,
                   what.c_str());
      return kBadReport;
    }
    q.close(); // as the benchmark's process would end: its unread bytes are freed
    return kReportedDeadlock;
  }
  while (q.pop(Deadline::after(50ms))) {
  }
  q.close();
  return kCompleted;
}

TEST(Deadlock, TheOriginalBenchmarkSettingEndsWithDeadlockNamingTheProcessesNeverAHang) {
  NameGuard guard(unique_name("deadlock"));
  const std::uint64_t transfer = Queue::footprint(2, 5, kBodyBytes + kCheckedOverhead);
  auto queue = Queue::create(guard.name(), {.capacity_bytes = 10 * transfer});

  std::vector<std::unique_ptr<Pipe>> registered;
  std::vector<std::unique_ptr<Pipe>> go;
  std::vector<std::unique_ptr<Child>> children;
  for (int i = 0; i < kProcesses; ++i) {
    registered.push_back(std::make_unique<Pipe>());
    go.push_back(std::make_unique<Pipe>());
    children.push_back(std::make_unique<Child>(
        spawn_child(run_participant, guard.name(), i, *registered[i], *go[i])));
  }
  std::string pid_line;
  for (int i = 0; i < kProcesses; ++i) {
    ASSERT_TRUE(registered[i]->expect('r'));
    pid_line += std::to_string(children[i]->pid()) + " ";
  }
  for (int i = 0; i < kProcesses; ++i) {
    go[i]->send_text(pid_line);
  }
  int deadlocks = 0;
  for (int i = 0; i < kProcesses; ++i) {
    const int status = children[i]->wait(120s);
    EXPECT_TRUE(status == kCompleted || status == kReportedDeadlock)
        << "p" << i << " ended with " << status << " (-1000: hung; 8: bad report)";
    deadlocks += status == kReportedDeadlock ? 1 : 0;
  }
  EXPECT_GE(deadlocks, 1) << "every process completed: the setting did not deadlock";
  queue.close();
  EXPECT_FALSE(guard.exists());
}

} // namespace
} // namespace pysyncq::testing
