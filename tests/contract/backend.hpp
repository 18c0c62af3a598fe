// The backends the contract suite runs on (tests/contract): what differs between shared
// memory, nats:// and each later platform is how a queue is named, whether a name
// exists, and what a message costs; every test of the suite runs once per backend.
//
// To add a platform: write a Backend for it (a file of its own) and add one entry to
// contract_backends() in backends.cpp.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace pysyncq::testing {

/// One backend for the length of one test: it owns what the backend needs (a server)
/// and removes every queue it named, even when the test fails.
class Backend {
public:
  Backend() = default;
  Backend(const Backend &) = delete;
  Backend &operator=(const Backend &) = delete;
  virtual ~Backend() = default;

  /// A new queue name (a URL for a server) that no other test uses.
  virtual std::string fresh(const std::string &tag) = 0;
  /// Whether the queue `name` exists now (so that a test can see the last close remove it).
  virtual bool exists(const std::string &name) = 0;
  /// The bytes an append with fields of these sizes takes from the capacity of queue
  /// `name`, predicted independently of the queue's own code.
  virtual std::uint64_t charge(const std::string &name, std::size_t sender_bytes,
                               std::size_t type_bytes, std::size_t body_bytes) = 0;
  /// A capacity that is a whole multiple of this is kept exactly as asked.
  virtual std::uint64_t granule(const std::string &name) = 0;
};

/// How the suite gets a backend. `unavailable` says why it cannot run here ("" when it
/// can): the test is then skipped with that reason.
struct BackendFactory {
  std::string label; // the suffix of each test's name: "shm", "nats"
  std::function<std::string()> unavailable;
  std::function<std::unique_ptr<Backend>()> start;
};

/// Every backend this build has.
std::vector<BackendFactory> contract_backends();

// One factory per backend (each in its own file).
BackendFactory shm_backend();
BackendFactory nats_backend();

} // namespace pysyncq::testing
