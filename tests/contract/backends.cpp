// The backends of this build, in the order their tests run. A new platform adds its
// factory here (and its file to CMakeLists.txt).
#include "backend.hpp"

namespace pysyncq::testing {

std::vector<BackendFactory> contract_backends() {
  std::vector<BackendFactory> backends{shm_backend()};
#ifdef PYSYNCQ_CONTRACT_NATS // NATS built (libnats found); the server may still be missing
  backends.push_back(nats_backend());
#endif
  return backends;
}

} // namespace pysyncq::testing
