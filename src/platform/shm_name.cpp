// Queue names as the OS's shared-memory calls want them. The same rules on every OS, so a
// name that works on one works on all.
#include "platform/shm.hpp"

#include "pysyncq/errors.hpp"

#include <string>

namespace pysyncq::platform {

std::string queue_name_for(std::string_view name) {
  if (!name.empty() && name.front() == '/') {
    name.remove_prefix(1); // accept "/jobs" as multiprocessing.shared_memory does
  }
  if (name.empty()) {
    throw InvalidArgument("queue name is empty");
  }
  if (name.size() > kMaxQueueNameBytes) {
    throw InvalidArgument("queue name is " + std::to_string(name.size()) +
                          " bytes long; at most " +
                          std::to_string(kMaxQueueNameBytes) + " are allowed");
  }
  if (name.find('/') != std::string_view::npos) {
    throw InvalidArgument("queue name '" + std::string(name) + "' contains '/'");
  }
  if (name.find('\0') != std::string_view::npos) {
    throw InvalidArgument("queue name contains a NUL byte");
  }
  if (name == "." || name == "..") {
    throw InvalidArgument("queue name '" + std::string(name) + "' is not a file name");
  }
  return std::string(name);
}

} // namespace pysyncq::platform
