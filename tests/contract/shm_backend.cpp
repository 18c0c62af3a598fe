// The contract suite on shared memory: names under /dev/shm (on Windows, named file
// mappings), removed after each test.
#include "backend.hpp"

#include "support/processes.hpp"

#include <pysyncq/queue.hpp>

namespace pysyncq::testing {

namespace {

class ShmBackend final : public Backend {
public:
  std::string fresh(const std::string &tag) override {
    guards_.push_back(std::make_unique<NameGuard>(unique_name(tag)));
    return guards_.back()->name();
  }

  bool exists(const std::string &name) override { return segment_exists(name); }

  std::uint64_t charge(const std::string & /*name*/, std::size_t sender_bytes,
                       std::size_t type_bytes, std::size_t body_bytes) override {
    // A record is a 16-byte header, then the three fields, padded to 8 bytes so that
    // the next header is aligned (docs/design.md); worked out here, not taken from
    // Queue::footprint, so that a wrong footprint fails the suite.
    constexpr std::uint64_t kHeaderBytes = 16;
    constexpr std::uint64_t kAlignment = 8;
    const std::uint64_t bytes = kHeaderBytes + sender_bytes + type_bytes + body_bytes;
    return (bytes + kAlignment - 1) / kAlignment * kAlignment;
  }

  std::uint64_t granule(const std::string & /*name*/) override {
    return 8; // capacities are rounded up to a multiple of 8 (CreateOptions)
  }

private:
  std::vector<std::unique_ptr<NameGuard>> guards_; // unlink what is left at the end
};

} // namespace

BackendFactory shm_backend() {
  return {"shm", [] { return std::string(); }, [] { return std::make_unique<ShmBackend>(); }};
}

} // namespace pysyncq::testing
