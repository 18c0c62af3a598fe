// The contract suite on nats://: one nats-server per test (the fixture of tests/support),
// killed with its store at the end of the test, which removes every queue on it.
#include "backend.hpp"

#include "nats/nats_fixture.hpp"
#include "support/nats_server.hpp"

#include <pysyncq/queue.hpp>

#include <cerrno>

namespace pysyncq::testing {

namespace {

// "nats://HOST:PORT/NAME" -> "NAME": the stream's subject is made of it.
std::string queue_of(const std::string &url) { return url.substr(url.rfind('/') + 1); }

class NatsBackend final : public Backend {
public:
  NatsBackend() : servers_(NatsServers::single()) {}

  std::string fresh(const std::string &tag) override {
    return servers_->url(NatsServers::unique_queue(tag));
  }

  bool exists(const std::string &name) override {
    try {
      (void)Queue::attach(name); // a handle that never opens removes nothing
      return true;
    } catch (const SyscallError &error) {
      if (error.error_number() == ENOENT) {
        return false;
      }
      throw;
    }
  }

  std::uint64_t charge(const std::string &name, std::size_t sender_bytes, std::size_t type_bytes,
                       std::size_t body_bytes) override {
    return predicted_charge(false, queue_of(name), sender_bytes, type_bytes, body_bytes).charged;
  }

  std::uint64_t granule(const std::string &name) override {
    return predicted_charge(false, queue_of(name), 1, 0, 0).granule;
  }

private:
  std::unique_ptr<NatsServers> servers_;
};

} // namespace

BackendFactory nats_backend() {
  return {"nats",
          [] {
            return nats_server_program().empty()
                       ? std::string("nats-server is not installed (apt-get install nats-server)")
                       : std::string();
          },
          [] { return std::make_unique<NatsBackend>(); }};
}

} // namespace pysyncq::testing
