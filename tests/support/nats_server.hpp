// Real NATS servers for the tests: one server, or a cluster of three, on 127.0.0.1 only,
// on ports the OS picks, with their stores in a temporary folder. Stopped (SIGKILL) and
// removed by the destructor; each server also dies with the test process
// (PR_SET_PDEATHSIG), so a crashed test leaves nothing running.
#pragma once

#include <pysyncq/queue.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <sys/types.h>
#include <vector>

namespace pysyncq::testing {

/// The nats-server program, or "" when it is not installed.
std::string nats_server_program();

/// A server that asks for a login or TLS: what it is started with, and how the readiness
/// probe logs in.
struct ServerLogin {
  std::vector<std::string> args{}; // e.g. {"--user", "u", "--pass", "p"} or {"--tlscert", ...}
  std::string userinfo{};          // "USER:PASSWORD@" or "TOKEN@" in the probe's URL
  NatsAccess access{};             // the probe's token, TLS files...
  std::string scheme = "nats";     // "tls" for a server that requires TLS
};

/// `url` with `userinfo` ("USER:PASSWORD@") inserted after its "://".
std::string with_login(const std::string &url, const std::string &userinfo);

class NatsServers {
public:
  /// One server with JetStream. Throws std::runtime_error if it does not come up.
  static std::unique_ptr<NatsServers> single(const ServerLogin &login = {});
  /// `nodes` servers in one JetStream cluster, ready for streams with that many replicas.
  static std::unique_ptr<NatsServers> cluster(int nodes = 3);

  NatsServers(const NatsServers &) = delete;
  NatsServers &operator=(const NatsServers &) = delete;
  ~NatsServers();

  /// "nats://127.0.0.1:P1[,127.0.0.1:P2...]/NAME": every running node, for failover
  /// (tls:// for a server that requires TLS; never with a login).
  std::string url(const std::string &queue) const;
  /// A queue name unique to this test process.
  static std::string unique_queue(const std::string &tag);

  std::size_t size() const noexcept { return nodes_.size(); }
  /// Index of the node whose server name is `name` ("n0", "n1"...); -1 if none.
  int node_named(const std::string &name) const;
  pid_t pid(int node) const { return nodes_.at(static_cast<std::size_t>(node)).pid; }
  void kill(int node);
  /// Starts a killed node again, on the same ports and store.
  void restart(int node);
  bool running(int node) const { return nodes_.at(static_cast<std::size_t>(node)).pid > 0; }

private:
  struct Node {
    std::string name;
    std::string store;
    int client_port = -1; // -1: let the OS pick (first start)
    int cluster_port = 0; // 0: not clustered
    pid_t pid = -1;
  };
  NatsServers() = default;
  void launch(Node &node);
  void wait_for_jetstream(int replicas);

  ServerLogin login_;
  std::string root_;
  std::vector<int> cluster_ports_;
  std::vector<Node> nodes_;
};

} // namespace pysyncq::testing
