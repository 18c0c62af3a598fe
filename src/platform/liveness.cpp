#include "platform/liveness.hpp"

namespace pysyncq::platform {

bool is_alive(const ProcessIdentity &identity) noexcept {
  if (identity.pid <= 0) {
    return false;
  }
  return start_time_of(identity.pid) == identity.start_time;
}

} // namespace pysyncq::platform
