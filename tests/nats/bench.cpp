// nats_bench: what crossing machines costs, on this machine's loopback. Starts its own
// nats-server (one, then a 3-node cluster with replicas=3) and measures, with real
// processes on one nats:// queue:
//   pingpong  one-way latency: two processes bounce a message; half the round trip
//   fanout    one writer appends 64-byte messages as fast as append returns, N readers
//             pop them all; messages per second until the last reader has the last one
// Usage: nats_bench [ROUND_TRIPS [MESSAGES [READERS]]]. Prints a Markdown table.
#include "nats_server.hpp"
#include "support/processes.hpp"

#include <pysyncq/queue.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

using namespace std::chrono_literals;
using pysyncq::Deadline;
using pysyncq::Queue;
using pysyncq::testing::Child;
using pysyncq::testing::NatsServers;
using pysyncq::testing::Pipe;
using Clock = std::chrono::steady_clock;

namespace {

struct Latency {
  double median_us = 0;
  double p10_us = 0;
  double p90_us = 0;
};

Latency pingpong(const std::string &url, int replicas, int round_trips) {
  Queue queue = Queue::create(url, {.capacity_bytes = 1 << 20, .replicas = replicas});
  queue.open("ping");
  queue.screened_senders().insert("ping");
  Pipe ready;
  Child echo(
      [&] {
        Queue mine = Queue::attach(url);
        mine.open("pong");
        mine.screened_senders().insert("pong");
        ready.send('R');
        for (int k = 0; k < round_trips + 10; ++k) {
          auto message = mine.pop(Deadline::after(30s));
          if (!message) {
            return 1;
          }
          mine.append("pong", message->body, Deadline::after(30s));
        }
        mine.close();
        return 0;
      },
      std::chrono::seconds(300));
  (void)ready.expect('R');
  std::vector<double> samples;
  for (int k = 0; k < round_trips + 10; ++k) {
    const auto start = Clock::now();
    queue.append("ping", std::string(64, 'p'), Deadline::after(30s));
    if (!queue.pop(Deadline::after(30s))) {
      std::fprintf(stderr, "pingpong: no answer\n");
      std::exit(1);
    }
    if (k >= 10) { // warm-up
      samples.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count() /
                        2);
    }
  }
  (void)echo.wait();
  queue.close();
  std::sort(samples.begin(), samples.end());
  const auto at = [&](double q) {
    return samples[static_cast<std::size_t>(q * (samples.size() - 1))];
  };
  return {at(0.5), at(0.1), at(0.9)};
}

double fanout(const std::string &url, int replicas, int messages, int readers) {
  Queue queue = Queue::create(url, {.capacity_bytes = 8 << 20, .replicas = replicas});
  queue.open("writer");
  queue.screened_senders().insert("writer");
  Pipe ready;
  Pipe done;
  std::vector<Child> children;
  for (int index = 0; index < readers; ++index) {
    children.emplace_back(
        [&] {
          Queue mine = Queue::attach(url);
          mine.open();
          ready.send('R');
          for (int k = 0; k < messages; ++k) {
            if (!mine.pop(Deadline::after(60s))) {
              return 1;
            }
          }
          done.send('D');
          mine.close();
          return 0;
        },
        std::chrono::seconds(300));
  }
  for (int index = 0; index < readers; ++index) {
    (void)ready.expect('R');
  }
  const std::string body(64, 'x');
  const auto start = Clock::now();
  for (int k = 0; k < messages; ++k) {
    queue.append("t", body, Deadline::after(60s));
    if ((k & 255) == 0) {
      while (queue.pop()) { // screened: the writer's own, read to free their bytes
      }
    }
  }
  for (int index = 0; index < readers; ++index) {
    (void)done.expect('D', 120s);
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  for (Child &child : children) {
    (void)child.wait();
  }
  queue.close();
  return messages / seconds;
}

} // namespace

int main(int argc, char **argv) {
  const int round_trips = argc > 1 ? std::atoi(argv[1]) : 2000;
  const int messages = argc > 2 ? std::atoi(argv[2]) : 20000;
  const int readers = argc > 3 ? std::atoi(argv[3]) : 2;
  if (pysyncq::testing::nats_server_program().empty()) {
    std::fprintf(stderr, "nats_bench: nats-server is not installed\n");
    return 2;
  }
  std::printf("| setup | one-way latency median (p10-p90) | fanout 1->%d, 64 B |\n|---|---|---|\n",
              readers);
  for (const int replicas : {1, 3}) {
    auto servers = replicas == 1 ? NatsServers::single() : NatsServers::cluster(3);
    const Latency latency =
        pingpong(servers->url(NatsServers::unique_queue("ping")), replicas, round_trips);
    const double rate =
        fanout(servers->url(NatsServers::unique_queue("fan")), replicas, messages, readers);
    std::printf("| %s | %.0f us (%.0f-%.0f) | %.0f msgs/s |\n",
                replicas == 1 ? "1 server" : "3 nodes, replicas=3", latency.median_us,
                latency.p10_us, latency.p90_us, rate);
    std::fflush(stdout);
  }
  return 0;
}
