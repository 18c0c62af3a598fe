// What crossing machines costs (issue 8): our queue's pingpong and fanout on shared
// memory, then on a nats:// queue of one nats-server and of a 3-node cluster with
// replicas=3, all on this machine's loopback; beside them the floors of raw NATS
// (peer_nats_floors.hpp). The servers are the NATS tests' own fixture
// (tests/support/nats_server.hpp): started here on ports the OS picks, killed and removed
// at the end of their setup.
//
// Records carry suite "nats" and a setup ("shared memory", "1 server", "3 nodes,
// replicas=3"). Without nats-server one {"skipped": ...} line says so.
#pragma once

#include "harness.hpp"
#include "peer_nats_floors.hpp"
#include "peer_pysyncq.hpp"
#include "support/nats_server.hpp"

#include <memory>

namespace bench {

// 64-byte messages only, and 2 fanout readers: the workloads of issue 8.
inline constexpr std::size_t kNatsSize = 64;
inline constexpr int kNatsReaders = 2;

inline void bench_nats(const Options &base) {
  using pysyncq::testing::NatsServers;
  if (pysyncq::testing::nats_server_program().empty()) {
    std::printf("{\"suite\": \"nats\", \"skipped\": \"nats\", \"reason\": \"nats-server is not "
                "installed (apt-get install nats-server)\"}\n");
    std::fflush(stdout);
    return;
  }
  const PolicyVariant queue{"pysyncq", pysyncq::WaitPolicy{}};
  for (const int nodes : {0, 1, 3}) {
    Options options = base;
    options.suite = "nats";
    options.setup = nodes == 0 ? "shared memory" : nodes == 1 ? "1 server" : "3 nodes, replicas=3";
    std::unique_ptr<NatsServers> servers;
    if (nodes > 0) {
      unpin(options); // the servers must not inherit the last client's CPU
      servers = nodes == 1 ? NatsServers::single() : NatsServers::cluster(nodes);
      // A round trip costs ~1000x shared memory's: fewer samples give the same spread.
      options.pingpong_iterations_override = options.quick ? 300 : 2000;
    }
    const std::string location = servers ? servers->url("") : "";
    const int replicas = nodes == 0 ? 1 : nodes;
    pysyncq_pingpong(options, queue, kNatsSize, location, replicas);
    pysyncq_fanout(options, queue, kNatsSize, kNatsReaders, location, replicas);
    if (servers) {
      bench_nats_floors(options, *servers, replicas, kNatsSize);
    }
  }
}

} // namespace bench
