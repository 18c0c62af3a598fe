#include "support/nats_server.hpp"

#include <pysyncq/queue.hpp>

#include <arpa/inet.h>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <netinet/in.h>
#include <sstream>
#include <stdexcept>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace pysyncq::testing {

namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

// A server ended before it wrote its ports: most often a cluster port that another
// program took between free_port() and the bind. The cluster is then tried again.
struct ExitedAtStart : std::runtime_error {
  using std::runtime_error::runtime_error;
};
constexpr int kClusterStartAttempts = 3;

// The end of a server's log, for an error message: the directory goes with the servers.
std::string log_tail(const std::string &path) {
  std::ifstream file(path, std::ios::binary);
  const std::string text((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  constexpr std::size_t kTail = 600;
  return text.size() > kTail ? text.substr(text.size() - kTail) : text;
}

// A port the OS has just handed out on 127.0.0.1. Another process could take it before
// the server binds it; the cluster needs its route ports known to every node up front.
int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t length = sizeof address;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr *>(&address), sizeof address) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr *>(&address), &length) != 0) {
    throw std::runtime_error(std::string("no free port: ") + std::strerror(errno));
  }
  ::close(fd);
  return ntohs(address.sin_port);
}

// The client port from "<dir>/nats-server_<pid>.ports": {"nats":["nats://127.0.0.1:P"],...}
// ("tls://" with TLS).
int read_client_port(const std::string &dir, pid_t pid) {
  const std::string path = dir + "/nats-server_" + std::to_string(pid) + ".ports";
  std::ifstream file(path);
  std::stringstream text;
  text << file.rdbuf();
  const std::string json = text.str();
  const std::size_t key = json.find("\"nats\":[\"");
  const std::size_t at = key == std::string::npos ? key : json.find("://", key);
  if (at == std::string::npos) {
    return -1;
  }
  const std::size_t colon = json.find(':', at + 3);
  const std::size_t end = json.find('"', colon);
  if (colon == std::string::npos || end == std::string::npos) {
    return -1;
  }
  return std::atoi(json.substr(colon + 1, end - colon - 1).c_str());
}

} // namespace

std::string nats_server_program() {
  for (const char *candidate :
       {"/usr/sbin/nats-server", "/usr/bin/nats-server", "/usr/local/bin/nats-server"}) {
    if (::access(candidate, X_OK) == 0) {
      return candidate;
    }
  }
  return {};
}

std::string with_login(const std::string &url, const std::string &userinfo) {
  const std::size_t at = url.find("://") + 3;
  return url.substr(0, at) + userinfo + url.substr(at);
}

std::unique_ptr<NatsServers> NatsServers::single(const ServerLogin &login) {
  std::unique_ptr<NatsServers> servers(new NatsServers);
  servers->login_ = login;
  char root[] = "/tmp/pysyncq-nats-XXXXXX";
  if (::mkdtemp(root) == nullptr) {
    throw std::runtime_error("mkdtemp failed");
  }
  servers->root_ = root;
  Node node;
  node.name = "n0";
  node.store = servers->root_ + "/n0";
  servers->nodes_.push_back(node);
  servers->launch(servers->nodes_[0]);
  servers->wait_for_jetstream(1);
  return servers;
}

std::unique_ptr<NatsServers> NatsServers::cluster(int nodes) {
  for (int attempt = 1;; ++attempt) {
    std::unique_ptr<NatsServers> servers(new NatsServers);
    char root[] = "/tmp/pysyncq-nats-XXXXXX";
    if (::mkdtemp(root) == nullptr) {
      throw std::runtime_error("mkdtemp failed");
    }
    servers->root_ = root;
    for (int index = 0; index < nodes; ++index) {
      servers->cluster_ports_.push_back(free_port());
    }
    for (int index = 0; index < nodes; ++index) {
      Node node;
      node.name = "n" + std::to_string(index);
      node.store = servers->root_ + "/" + node.name;
      node.cluster_port = servers->cluster_ports_[static_cast<std::size_t>(index)];
      servers->nodes_.push_back(node);
    }
    try {
      for (Node &node : servers->nodes_) {
        servers->launch(node);
      }
    } catch (const ExitedAtStart &) {
      if (attempt == kClusterStartAttempts) {
        throw;
      }
      continue; // the destructor kills the nodes started and removes the root
    }
    servers->wait_for_jetstream(nodes);
    return servers;
  }
}

void NatsServers::launch(Node &node) {
  fs::create_directories(node.store);
  std::vector<std::string> args = {nats_server_program(),
                                   "-a",
                                   "127.0.0.1",
                                   "-p",
                                   std::to_string(node.client_port),
                                   "-js",
                                   "-sd",
                                   node.store,
                                   "-n",
                                   node.name,
                                   "--ports_file_dir",
                                   node.store};
  args.insert(args.end(), login_.args.begin(), login_.args.end());
  if (node.cluster_port != 0) {
    std::string routes;
    for (const int port : cluster_ports_) {
      if (port != node.cluster_port) {
        routes +=
            (routes.empty() ? "" : ",") + std::string("nats://127.0.0.1:") + std::to_string(port);
      }
    }
    args.insert(args.end(),
                {"--cluster_name", "pysyncq-test", "--cluster",
                 "nats://127.0.0.1:" + std::to_string(node.cluster_port), "--routes", routes});
  }
  const std::string log = node.store + ".log";
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) {
    throw std::runtime_error("fork failed");
  }
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) {
      ::_exit(127);
    }
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    std::vector<char *> argv;
    for (std::string &arg : args) {
      argv.push_back(arg.data());
    }
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  node.pid = pid;
  for (int attempt = 0; attempt < 400; ++attempt) { // the ports file: up to 10 s
    const int port = read_client_port(node.store, pid);
    if (port > 0) {
      node.client_port = port;
      return;
    }
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      node.pid = -1;
      throw ExitedAtStart("nats-server " + node.name + " exited at start: " + log_tail(log));
    }
    std::this_thread::sleep_for(25ms);
  }
  throw std::runtime_error("nats-server " + node.name + " wrote no ports file; see " + log);
}

// A cluster elects its JetStream meta leader some seconds after start: create and remove
// a probe queue until that works.
void NatsServers::wait_for_jetstream(int replicas) {
  const auto give_up = std::chrono::steady_clock::now() + 30s;
  std::string last_error;
  for (;;) {
    try {
      const std::string probe = with_login(url(unique_queue("probe")), login_.userinfo);
      Queue queue = Queue::create(
          probe, {.capacity_bytes = 4096, .replicas = replicas, .access = login_.access});
      Queue::unlink(probe, login_.access);
      return;
    } catch (const std::exception &error) {
      last_error = error.what();
    }
    if (std::chrono::steady_clock::now() > give_up) {
      throw std::runtime_error("JetStream did not become ready: " + last_error);
    }
    std::this_thread::sleep_for(100ms);
  }
}

NatsServers::~NatsServers() {
  for (Node &node : nodes_) {
    if (node.pid > 0) {
      ::kill(node.pid, SIGKILL);
      ::waitpid(node.pid, nullptr, 0);
    }
  }
  std::error_code ignored;
  fs::remove_all(root_, ignored);
}

std::string NatsServers::url(const std::string &queue) const {
  std::string hosts;
  for (const Node &node : nodes_) {
    hosts +=
        (hosts.empty() ? "" : ",") + std::string("127.0.0.1:") + std::to_string(node.client_port);
  }
  return login_.scheme + "://" + hosts + "/" + queue;
}

std::string NatsServers::unique_queue(const std::string &tag) {
  static int counter = 0;
  return "t" + std::to_string(::getpid()) + "-" + std::to_string(++counter) + "-" + tag;
}

int NatsServers::node_named(const std::string &name) const {
  for (std::size_t index = 0; index < nodes_.size(); ++index) {
    if (nodes_[index].name == name) {
      return static_cast<int>(index);
    }
  }
  return -1;
}

void NatsServers::kill(int node) {
  Node &target = nodes_.at(static_cast<std::size_t>(node));
  if (target.pid > 0) {
    ::kill(target.pid, SIGKILL);
    ::waitpid(target.pid, nullptr, 0);
    target.pid = -1;
  }
}

void NatsServers::restart(int node) {
  Node &target = nodes_.at(static_cast<std::size_t>(node));
  kill(node);
  launch(target); // client_port is now the one the OS gave it first
}

} // namespace pysyncq::testing
