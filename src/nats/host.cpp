#include "nats/host.hpp"

#include "platform/liveness.hpp"

#include <fstream>
#include <random>

namespace pysyncq::nats {

namespace {

const std::string &boot_id() {
  static const std::string id = [] {
    std::ifstream file("/proc/sys/kernel/random/boot_id");
    std::string text;
    std::getline(file, text);
    return text;
  }();
  return id;
}

} // namespace

MemberIdentity this_process(std::string_view sender) {
  const platform::ProcessIdentity self = platform::current_process();
  return MemberIdentity{self.pid, self.start_time, boot_id(), std::string(sender)};
}

bool may_be_alive(const MemberIdentity &member) noexcept {
  if (member.boot_id.empty() || member.boot_id != boot_id()) {
    return true; // another machine (or boot): only the server's liveness can tell
  }
  return platform::is_alive(platform::ProcessIdentity{member.pid, member.start_time});
}

std::string random_hex(std::size_t digits) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::random_device device;
  std::string text(digits, '0');
  for (char &c : text) {
    c = kHex[device() & 15];
  }
  return text;
}

} // namespace pysyncq::nats
