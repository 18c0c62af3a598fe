// The ring under load: several writers reach every reader in one total order, and random
// sizes across the wrap arrive byte for byte. Broadcast as every backend does it is in
// tests/contract.
#include "support/processes.hpp"

#include <pysyncq/queue.hpp>

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <string>
#include <vector>

using namespace std::chrono_literals;
using pysyncq::Deadline;
using pysyncq::Queue;
using pysyncq::testing::Child;
using pysyncq::testing::spawn_child;
using pysyncq::testing::NameGuard;
using pysyncq::testing::Pipe;
using pysyncq::testing::unique_name;

namespace {

// A body that carries its own check: "<writer>:<sequence>:<payload>:<sum>".
std::string make_body(const std::string &writer, int sequence, std::size_t payload_bytes,
                      std::mt19937 &random) {
  std::string payload(payload_bytes, '\0');
  for (char &c : payload) {
    c = static_cast<char>('a' + random() % 26);
  }
  unsigned sum = 0;
  for (const char c : payload) {
    sum = sum * 31 + static_cast<unsigned char>(c);
  }
  return writer + ":" + std::to_string(sequence) + ":" + payload + ":" + std::to_string(sum);
}

bool body_is_whole(const std::string &body) {
  const auto last = body.rfind(':');
  const auto payload_start = body.find(':', body.find(':') + 1) + 1;
  if (last == std::string::npos || payload_start == 0 || payload_start > last) {
    return false;
  }
  unsigned sum = 0;
  for (std::size_t i = payload_start; i < last; ++i) {
    sum = sum * 31 + static_cast<unsigned char>(body[i]);
  }
  return std::to_string(sum) == body.substr(last + 1);
}

} // namespace

TEST(Broadcast, messages_from_several_writers_reach_every_reader_in_one_total_order) {
  NameGuard name(unique_name("order"));
  constexpr int kWriters = 3;
  constexpr int kReaders = 2;
  constexpr int kPerWriter = 3000;
  Queue queue = Queue::create(name.name(), {.capacity_bytes = 8192});
  Pipe registered;
  Pipe go;
  Pipe report;
  std::vector<Child> children;
  for (int r = 0; r < kReaders; ++r) {
    children.push_back(spawn_child(
        [](const std::string &queue_name, const Pipe &registered, const Pipe &report, int r) {
          Queue mine = Queue::attach(queue_name);
          mine.open("reader" + std::to_string(r));
          registered.send('R');
          // Each reader reports a digest of the whole sequence it saw; equal digests mean
          // one total order. Per-writer order is checked here too.
          std::map<std::string, int> next_from;
          unsigned long long digest = 1469598103934665603ULL;
          int seen = 0;
          while (seen < kWriters * kPerWriter) {
            auto message = mine.pop(Deadline::after(30s));
            if (!message) {
              return 3;
            }
            if (message->type != "data") {
              continue;
            }
            if (!body_is_whole(message->body)) {
              return 4;
            }
            const int sequence = std::stoi(message->body.substr(message->body.find(':') + 1));
            if (sequence != next_from[message->sender]++) {
              return 5;
            }
            for (const char c : message->sender + message->body) {
              digest = (digest ^ static_cast<unsigned char>(c)) * 1099511628211ULL;
            }
            ++seen;
          }
          report.send_text(std::to_string(digest));
          mine.close();
          return 0;
        },
        name.name(), registered, report, r));
  }
  for (int w = 0; w < kWriters; ++w) {
    children.push_back(spawn_child(
        [](const std::string &queue_name, const Pipe &registered, const Pipe &go, int w) {
          Queue mine = Queue::attach(queue_name);
          const std::string me = "writer" + std::to_string(w);
          mine.open(me);
          mine.screened_senders().insert(me);
          registered.send('W');
          if (!go.expect('G')) {
            return 2;
          }
          std::mt19937 random(static_cast<unsigned>(w));
          for (int i = 0; i < kPerWriter; ++i) {
            const std::string body = make_body(me, i, random() % 200, random);
            // Writers are members too: a writer blocked in append while holding unread
            // messages could never free them (the queue reports that as a deadlock), so
            // it reads what it holds before each wait for space.
            while (!mine.try_append("data", body)) {
              while (mine.pop()) {
              }
              try {
                (void)mine.wait_for_space(Queue::footprint(me.size(), 4, body.size()),
                                          Deadline::after(1s));
              } catch (const pysyncq::Deadlock &) {
                // Someone appended since we drained: we hold space again. Drain and retry.
              }
            }
          }
          mine.close(); // from here on our cursor holds nothing back
          return 0;
        },
        name.name(), registered, go, w));
  }
  for (int i = 0; i < kReaders + kWriters; ++i) {
    char byte = 0;
    ASSERT_TRUE(registered.receive(byte, 20s));
  }
  for (int w = 0; w < kWriters; ++w) {
    go.send('G');
  }
  std::string first;
  std::string second;
  ASSERT_TRUE(report.receive_line(first, 60s));
  ASSERT_TRUE(report.receive_line(second, 60s));
  EXPECT_EQ(first, second);
  for (Child &child : children) {
    EXPECT_EQ(child.wait(), 0);
  }
}

TEST(Broadcast, random_sizes_across_the_wrap_arrive_byte_for_byte) {
  NameGuard name(unique_name("wrap"));
  constexpr int kMessages = 20000;
  Queue queue = Queue::create(name.name(), {.capacity_bytes = 1000}); // odd: rounds to 1000
  queue.open("writer");
  queue.screened_senders().insert("writer");
  Pipe ready;
  Child reader = spawn_child(
      [](const std::string &queue_name, const Pipe &ready) {
        Queue mine = Queue::attach(queue_name);
        mine.open("reader");
        ready.send('R');
        std::mt19937 expected(7);
        for (int i = 0; i < kMessages; ++i) {
          auto message = mine.pop(Deadline::after(30s));
          if (!message) {
            return 3;
          }
          const std::size_t type_bytes = expected() % 9;
          const std::size_t body_bytes = expected() % 900;
          std::string type(type_bytes, 't');
          std::string body(body_bytes, '\0');
          for (char &c : body) {
            c = static_cast<char>(expected());
          }
          if (message->type != type || message->body != body) {
            std::fprintf(stderr, "message %d differs\n", i);
            return 4;
          }
        }
        mine.close();
        return 0;
      },
      name.name(), ready);
  ASSERT_TRUE(ready.expect('R'));
  std::mt19937 random(7);
  for (int i = 0; i < kMessages; ++i) {
    const std::size_t type_bytes = random() % 9;
    const std::size_t body_bytes = random() % 900;
    std::string type(type_bytes, 't');
    std::string body(body_bytes, '\0');
    for (char &c : body) {
      c = static_cast<char>(random());
    }
    queue.append(type, body, Deadline::after(30s));
    EXPECT_FALSE(queue.pop()); // our own messages are screened, and still count as read
  }
  EXPECT_EQ(reader.wait(), 0);
  EXPECT_EQ(queue.stats().used_bytes, 0U);
  queue.close();
}
