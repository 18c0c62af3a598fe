// A 3-node JetStream cluster, a queue with replicas=3, and the stream's leader killed
// with SIGKILL halfway through: every member still reads every message once, in order,
// and the appends go on.
#include "support/nats_server.hpp"
#include "support/processes.hpp"

#include <pysyncq/queue.hpp>

#include <gtest/gtest.h>
#include <nats/nats.h>

using namespace std::chrono_literals;
using pysyncq::Deadline;
using pysyncq::Queue;
using pysyncq::testing::Child;
using pysyncq::testing::NatsServers;
using pysyncq::testing::Pipe;

namespace {

// The server name of the stream's leader, asked with the C client directly (the queue's
// API has no word for a leader).
std::string stream_leader(const std::string &servers, const std::string &stream) {
  natsConnection *connection = nullptr;
  if (natsConnection_ConnectTo(&connection, servers.c_str()) != NATS_OK) {
    return {};
  }
  jsCtx *js = nullptr;
  jsStreamInfo *info = nullptr;
  std::string leader;
  if (natsConnection_JetStream(&js, connection, nullptr) == NATS_OK &&
      js_GetStreamInfo(&info, js, stream.c_str(), nullptr, nullptr) == NATS_OK) {
    if (info->Cluster != nullptr && info->Cluster->Leader != nullptr) {
      leader = info->Cluster->Leader;
    }
    jsStreamInfo_Destroy(info);
  }
  jsCtx_Destroy(js);
  natsConnection_Destroy(connection);
  return leader;
}

// Reads `count` messages "0".."count-1"; describes anything out of place.
std::string read_in_order(Queue &queue, int count) {
  std::string problems;
  for (int expected = 0; expected < count; ++expected) {
    auto message = queue.pop(Deadline::after(30s));
    if (!message) {
      return problems + "timed out waiting for " + std::to_string(expected);
    }
    if (message->body != std::to_string(expected)) {
      problems += "got " + message->body + " for " + std::to_string(expected) + "; ";
    }
  }
  if (auto extra = queue.pop(Deadline::after(500ms))) {
    problems += "an extra message " + extra->body;
  }
  return problems.empty() ? "ok" : problems;
}

} // namespace

TEST(NatsCluster, a_killed_stream_leader_loses_nothing_duplicates_nothing_and_appends_resume) {
  if (pysyncq::testing::nats_server_program().empty()) {
    GTEST_SKIP() << "nats-server is not installed (apt-get install nats-server)";
  }
  auto servers = NatsServers::cluster(3);
  const std::string name = NatsServers::unique_queue("leader");
  const std::string url = servers->url(name);
  constexpr int kMessages = 600;
  constexpr int kBeforeKill = 200;
  Queue queue = Queue::create(url, {.capacity_bytes = 1 << 20, .replicas = 3, .liveness = 3s});
  queue.open("writer");
  Pipe ready;
  Pipe verdicts;
  std::vector<Child> readers;
  for (int index = 0; index < 2; ++index) {
    readers.emplace_back([&, index] {
      Queue mine = Queue::attach(url);
      mine.open("reader" + std::to_string(index));
      ready.send('R');
      verdicts.send_text(read_in_order(mine, kMessages));
      mine.close();
      return 0;
    });
  }
  for (int index = 0; index < 2; ++index) {
    ASSERT_TRUE(ready.expect('R'));
  }
  for (int k = 0; k < kBeforeKill; ++k) {
    queue.append("n", std::to_string(k), Deadline::after(30s));
  }
  const std::string servers_only = url.substr(0, url.rfind('/'));
  const int leader = servers->node_named(stream_leader(servers_only, "PYSYNCQ_" + name));
  ASSERT_GE(leader, 0) << "no stream leader found";
  servers->kill(leader);
  for (int k = kBeforeKill; k < kMessages; ++k) {
    queue.append("n", std::to_string(k), Deadline::after(30s));
  }
  for (int index = 0; index < 2; ++index) {
    std::string verdict;
    ASSERT_TRUE(verdicts.receive_line(verdict, 60s));
    EXPECT_EQ(verdict, "ok");
  }
  for (Child &reader : readers) {
    EXPECT_EQ(reader.wait(), 0);
  }
  EXPECT_EQ(read_in_order(queue, kMessages), "ok") << "the writer's own copies";
  queue.close();
}
