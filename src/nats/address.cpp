#include "nats/address.hpp"

#include "pysyncq/errors.hpp"

#include <charconv>

namespace pysyncq::nats {

namespace {

constexpr std::string_view kScheme = "nats://";
constexpr std::size_t kMaxNameBytes = 200; // stream names become file names on the server

[[noreturn]] void bad(std::string_view url, const std::string &why) {
  throw InvalidArgument("bad NATS queue name '" + std::string(url) + "': " + why +
                        " (expected nats://host[:port]/NAME)");
}

bool name_char(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-';
}

std::string server_url(std::string_view url, std::string_view host_port) {
  if (host_port.empty()) {
    bad(url, "a server address is empty");
  }
  std::string_view host = host_port;
  int port = kDefaultPort;
  // "[::1]:4222" keeps its brackets; a bare host has no ':'.
  const std::size_t colon = host_port.rfind(':');
  const std::size_t bracket = host_port.rfind(']');
  if (colon != std::string_view::npos && (bracket == std::string_view::npos || colon > bracket)) {
    host = host_port.substr(0, colon);
    const std::string_view digits = host_port.substr(colon + 1);
    const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
    if (error != std::errc() || end != digits.data() + digits.size() || port <= 0 || port > 65535) {
      bad(url, "port '" + std::string(digits) + "' is not a number from 1 to 65535");
    }
  }
  if (host.empty()) {
    bad(url, "a host is empty");
  }
  return std::string(kScheme) + std::string(host) + ":" + std::to_string(port);
}

} // namespace

Address parse_address(std::string_view url) {
  if (url.substr(0, kScheme.size()) != kScheme) {
    bad(url, "it does not start with nats://");
  }
  const std::string_view rest = url.substr(kScheme.size());
  const std::size_t slash = rest.find('/');
  if (slash == std::string_view::npos) {
    bad(url, "there is no /NAME after the server");
  }
  Address address;
  address.url = std::string(url);
  std::string_view hosts = rest.substr(0, slash);
  for (;;) {
    const std::size_t comma = hosts.find(',');
    address.servers.push_back(server_url(url, hosts.substr(0, comma)));
    if (comma == std::string_view::npos) {
      break;
    }
    hosts.remove_prefix(comma + 1);
  }
  address.queue = std::string(rest.substr(slash + 1));
  if (address.queue.empty() || address.queue.size() > kMaxNameBytes) {
    bad(url, "NAME must have 1 to " + std::to_string(kMaxNameBytes) + " characters");
  }
  for (const char c : address.queue) {
    if (!name_char(c)) {
      bad(url, "NAME may hold only letters, digits, '_' and '-'");
    }
  }
  address.stream = "PYSYNCQ_" + address.queue;
  address.subject = "pysyncq." + address.queue;
  return address;
}

} // namespace pysyncq::nats
