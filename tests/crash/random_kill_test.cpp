// Random SIGKILLs in a bounded loop of rounds (seed printed; PYSYNCQ_SEED replays it).
//
// Each round: survivors register, then victims join and do random appends, pops, closes,
// reopens and stats; every victim dies, either at a randomly chosen crash point or by a
// SIGKILL from the test at a random instant. Survivors check every message they read:
// whole and byte-exact (checksum), and from each sender in order with no gap and no
// duplicate (victims joined after the survivors, so survivors see all they published).
// After the round the whole capacity must be usable and the last close removes the name.
#include "crash_helpers.hpp"

#include "core/layout.hpp"
#include "segment.hpp"

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <thread>

namespace pysyncq::testing {
namespace {

using namespace std::chrono_literals;

constexpr const char *kCrashPoints[] = {"append.before_copy",
                                        "append.after_copy",
                                        "append.after_publish",
                                        "append.before_wake",
                                        "pop.before_advance",
                                        "open.after_join",
                                        "close.after_leave",
                                        "close.unlinking",
                                        "wait_for_space.after_announce",
                                        "wait_for_message.after_announce"};

constexpr int kSurvivors = 2;
constexpr int kVictims = 3;
constexpr std::uint32_t kVictimStreamBase = 100;

// Exit codes of a survivor.
enum SurvivorExit : int {
  kOk = 0,
  kNoGo = 3,
  kTorn = 20,
  kOutOfOrder = 21,
  kBadDone = 22,
  kStuck = 23,
};

struct Round {
  std::uint64_t seed;
  std::string name;
  std::uint64_t capacity;
  std::uint64_t messages_each;
};

// A survivor: appends `messages_each` checked messages and a "done", and reads until it
// has every survivor's "done". Appends block for a short random time, so dead members
// that hold back space are reaped by the wait; a Deadlock verdict (all holders blocked)
// is answered by reading.
int run_survivor(const Round &round, Queue &q, int index, const Pipe &registered, const Pipe &go) {
  q.open("s" + std::to_string(index));
  registered.send('r');
  if (!go.expect('g', 30s)) {
    return kNoGo;
  }
  Random rng(round.seed * 31 + static_cast<std::uint64_t>(index));
  const auto give_up = std::chrono::steady_clock::now() + 40s;
  const std::uint32_t max_payload = static_cast<std::uint32_t>(round.capacity / 3);
  std::map<std::uint32_t, std::uint64_t> next_seq; // per stream
  int done_seen = 0;
  std::uint64_t sent = 0; // messages_each data messages, then one "done"
  Message message;
  while (done_seen < kSurvivors || sent <= round.messages_each) {
    if (std::chrono::steady_clock::now() > give_up) {
      std::fprintf(stderr, "survivor %d stuck: sent %llu, saw %d done\n", index,
                   static_cast<unsigned long long>(sent), done_seen);
      return kStuck;
    }
    bool progressed = false;
    if (sent <= round.messages_each) {
      const bool done = sent == round.messages_each;
      const std::string body =
          make_checked_body(static_cast<std::uint32_t>(index), sent,
                            done ? 0 : static_cast<std::uint32_t>(rng.below(max_payload)));
      try {
        q.append(done ? "done" : "data", body,
                 Deadline::after(std::chrono::milliseconds(rng.below(20))));
        ++sent;
        progressed = true;
      } catch (const QueueFull &) { // full for now, or every holder blocked: go read
      }
    }
    const Deadline read_deadline =
        progressed ? Deadline::now() : Deadline::after(std::chrono::milliseconds(5));
    while (q.pop_into(message, read_deadline)) {
      const auto id = parse_checked_body(message.body);
      if (!id) {
        std::fprintf(stderr, "survivor %d: torn message of %zu bytes from %s\n", index,
                     message.body.size(), message.sender.c_str());
        return kTorn;
      }
      std::uint64_t &expected = next_seq[id->stream];
      if (message.type == "done") {
        if (id->stream >= kSurvivors || id->seq != round.messages_each ||
            expected != round.messages_each) {
          std::fprintf(stderr, "survivor %d: 'done' of stream %u after %llu of %llu\n", index,
                       id->stream, static_cast<unsigned long long>(expected),
                       static_cast<unsigned long long>(round.messages_each));
          return kBadDone;
        }
        ++done_seen;
        continue;
      }
      if (id->seq != expected) {
        std::fprintf(stderr, "survivor %d: stream %u message %llu where %llu was due\n", index,
                     id->stream, static_cast<unsigned long long>(id->seq),
                     static_cast<unsigned long long>(expected));
        return kOutOfOrder;
      }
      ++expected;
    }
  }
  q.close();
  return kOk;
}

// The member bookkeeping of a queue, to explain a failure.
std::string member_table_text(const std::string &name) {
  const Segment segment = Segment::attach(name);
  const core::SegmentHeader &header = *segment.header;
  std::string text = "member_count " + std::to_string(header.member_count.load()) +
                     ", slots_in_use " + std::to_string(header.slots_in_use.load()) +
                     ", unlinked " + std::to_string(header.unlinked.load()) + ", lock_recoveries " +
                     std::to_string(header.lock_recoveries.load()) + "; active slots:";
  for (std::uint32_t index = 0; index < segment.members.max_members(); ++index) {
    const core::MemberSlot &slot = segment.members.slot(index);
    if (slot.state.load() != core::kSlotFree) {
      text += " [" + std::to_string(index) + " pid " + std::to_string(slot.pid) + " state " +
              std::to_string(slot.state.load()) + "]";
    }
  }
  return text;
}

// A victim: random operations until it dies (its armed crash point, or the test's kill).
int run_victim(const Round &round, Queue &q, int index, const char *crash_point) {
  Random rng(round.seed * 131 + static_cast<std::uint64_t>(index));
  if (crash_point != nullptr) {
    arm_crash_point(crash_point);
  }
  if (rng.chance(50)) {
    q.set_wait_policy(WaitPolicy::sleep()); // reach the sleep crash points sooner
  }
  const std::string sender = "v" + std::to_string(index);
  q.open(sender);
  const auto stream = kVictimStreamBase + static_cast<std::uint32_t>(index);
  const std::uint32_t max_payload = static_cast<std::uint32_t>(round.capacity / 3);
  std::uint64_t seq = 0;
  Message message;
  for (;;) {
    const std::uint64_t op = rng.below(20);
    if (op < 9) {
      try {
        q.append("data",
                 make_checked_body(stream, seq, static_cast<std::uint32_t>(rng.below(max_payload))),
                 Deadline::after(std::chrono::milliseconds(rng.below(30))));
        ++seq;
      } catch (const QueueFull &) {
      }
    } else if (op < 17) {
      const Deadline deadline = Deadline::after(std::chrono::milliseconds(rng.below(10)));
      for (int n = 0; n < 4 && q.pop_into(message, deadline); ++n) {
        if (!parse_checked_body(message.body)) {
          return kTorn;
        }
      }
    } else if (op < 19) {
      q.close();
      q.open(sender);
    } else {
      (void)q.stats();
    }
  }
}

// The children's entry points (spawn_child): the round comes as numbers, and each child
// attaches by name, then says so on `attached` (the parent holds the name until all did).
int survivor_child(std::uint64_t seed, const std::string &name, std::uint64_t capacity,
                   std::uint64_t messages_each, int index, const Pipe &attached,
                   const Pipe &registered, const Pipe &go) {
  const Round round{seed, name, capacity, messages_each};
  Queue q = Queue::attach(name);
  attached.send('a');
  return run_survivor(round, q, index, registered, go);
}

int victim_child(std::uint64_t seed, const std::string &name, std::uint64_t capacity,
                 std::uint64_t messages_each, int index, const std::string &crash_point,
                 const Pipe &attached) {
  const Round round{seed, name, capacity, messages_each};
  Queue q = Queue::attach(name);
  attached.send('a');
  return run_victim(round, q, index, crash_point.empty() ? nullptr : crash_point.c_str());
}

// Rounds: 150 (1000 under torture); PYSYNCQ_RANDOM_KILL_ROUNDS sets another number (the
// Windows run under Wine, where a process takes far longer to start, uses 20).
int round_count() {
  if (const char *rounds = std::getenv("PYSYNCQ_RANDOM_KILL_ROUNDS")) {
    return std::atoi(rounds);
  }
  return torture() ? 1000 : 150;
}

TEST(RandomKill, SurvivorsReadEveryMessageWholeAndInOrderAndTheCapacityComesBack) {
  const std::uint64_t seed = test_seed();
  const int rounds = round_count();
  std::printf("random kill: %d rounds, seed %llu (replay with PYSYNCQ_SEED=%llu)\n", rounds,
              static_cast<unsigned long long>(seed), static_cast<unsigned long long>(seed));
  std::fflush(stdout);
  Random rng(seed);
  int crash_point_deaths = 0;
  for (int r = 0; r < rounds; ++r) {
    SCOPED_TRACE("round " + std::to_string(r) + ", seed " + std::to_string(seed));
    NameGuard guard(unique_name("random-kill"));
    Round round{rng.next(), guard.name(), 1024 + 8 * rng.below(900), 10 + rng.below(30)};
    auto queue = Queue::create(guard.name(), {.capacity_bytes = round.capacity});

    // Every child attaches before the survivors start: if the survivors closed before a
    // victim had attached, the last close would have removed the name under it.
    Pipe attached;
    std::vector<std::unique_ptr<Pipe>> registered;
    std::vector<std::unique_ptr<Pipe>> go;
    std::vector<std::unique_ptr<Child>> survivors;
    for (int i = 0; i < kSurvivors; ++i) {
      registered.push_back(std::make_unique<Pipe>());
      go.push_back(std::make_unique<Pipe>());
      survivors.push_back(std::make_unique<Child>(
          spawn_child(survivor_child, round.seed, round.name, round.capacity, round.messages_each,
                      i, attached, *registered[i], *go[i])));
    }
    for (int i = 0; i < kSurvivors; ++i) {
      ASSERT_TRUE(registered[i]->expect('r'));
    }
    std::vector<std::unique_ptr<Child>> victims;
    std::vector<std::uint64_t> kill_after_us;
    for (int v = 0; v < kVictims; ++v) {
      const std::string point =
          rng.chance(60) ? kCrashPoints[rng.below(std::size(kCrashPoints))] : "";
      victims.push_back(
          std::make_unique<Child>(spawn_child(victim_child, round.seed, round.name, round.capacity,
                                              round.messages_each, v, point, attached)));
      kill_after_us.push_back(rng.below(40'000));
    }
    for (int i = 0; i < kSurvivors + kVictims; ++i) {
      ASSERT_TRUE(attached.expect('a'));
    }
    for (int i = 0; i < kSurvivors; ++i) {
      go[i]->send('g');
    }
    // Kill the victims still alive, in order of their random instants.
    std::vector<std::size_t> order(victims.size());
    for (std::size_t v = 0; v < order.size(); ++v) {
      order[v] = v;
    }
    std::sort(order.begin(), order.end(),
              [&](std::size_t a, std::size_t b) { return kill_after_us[a] < kill_after_us[b]; });
    const auto start = std::chrono::steady_clock::now();
    std::vector<int> statuses(victims.size());
    for (const std::size_t v : order) {
      std::this_thread::sleep_until(start + std::chrono::microseconds(kill_after_us[v]));
      statuses[v] = victims[v]->kill_and_wait(); // -SIGKILL too if its crash point fired
    }
    for (const int status : statuses) {
      EXPECT_EQ(status, -SIGKILL) << "a victim ended otherwise (20: it read a torn message)";
    }
    for (int i = 0; i < kSurvivors; ++i) {
      EXPECT_EQ(survivors[i]->wait(60s), kOk) << "survivor " << i;
    }
    if (::testing::Test::HasFailure()) {
      return;
    }
    crash_point_deaths += static_cast<int>(queue.stats().lock_recoveries);

    queue.open("checker");
    expect_whole_capacity_usable(queue);
    EXPECT_EQ(queue.stats().members, 1U);
    queue.close();
    EXPECT_FALSE(guard.exists()) << "the last close left the segment behind: "
                                 << (guard.exists() ? member_table_text(guard.name()) : "");
    if (::testing::Test::HasFailure()) {
      return;
    }
  }
  std::printf("random kill: %d lock recoveries from processes killed holding the lock\n",
              crash_point_deaths);
}

} // namespace
} // namespace pysyncq::testing
