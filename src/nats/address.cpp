#include "nats/address.hpp"

#include "nats/wire.hpp"
#include "pysyncq/errors.hpp"

#include <algorithm>
#include <charconv>

namespace pysyncq::nats {

namespace {

constexpr std::string_view kNatsScheme = "nats://";
constexpr std::string_view kTlsScheme = "tls://";
constexpr std::size_t kMaxNameBytes = 200; // stream names become file names on the server

// `url` with the password of "USER:PASSWORD@" and a "TOKEN@" shown as "***". Works on any
// text, valid or not, so that an error message about a malformed URL shows no secret
// either: everything up to the last '@' (which no host or NAME holds) is the login, even
// where a password holds an unencoded '/' or ','.
std::string masked(std::string_view url) {
  const std::size_t scheme_end = url.find("://");
  const std::size_t at = url.rfind('@');
  if (scheme_end == std::string_view::npos || at == std::string_view::npos || at < scheme_end) {
    return std::string(url);
  }
  const std::size_t login_start = scheme_end + 3;
  const std::size_t colon = url.substr(login_start, at - login_start).find(':');
  const std::size_t kept = colon == std::string_view::npos ? login_start : login_start + colon + 1;
  return std::string(url.substr(0, kept)) + "***" + std::string(url.substr(at));
}

[[noreturn]] void bad(std::string_view url, const std::string &why) {
  throw InvalidArgument("bad NATS queue name '" + masked(url) + "': " + why +
                        " (expected nats://[USER:PASSWORD@]host[:port]/NAME)");
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
  // Always nats://: TLS is asked for in the options, and the login never reaches nats.c
  // in a URL (so that none of its messages can show it).
  return std::string(kNatsScheme) + std::string(host) + ":" + std::to_string(port);
}

// "USER:PASSWORD" or "TOKEN", percent-decoded, into `login`.
void take_login(std::string_view url, std::string_view userinfo, const NatsAccess &access,
                Login &login) {
  const std::size_t colon = userinfo.find(':');
  if (colon == std::string_view::npos) {
    if (userinfo.empty()) {
      bad(url, "the login before '@' is empty");
    }
    if (!access.token.empty()) {
      bad(url, "a token is given twice, in the URL and as an option");
    }
    login.token = percent_decode(userinfo);
    return;
  }
  if (colon == 0) {
    bad(url, "the user before ':' is empty");
  }
  login.user = percent_decode(userinfo.substr(0, colon));
  login.password = percent_decode(userinfo.substr(colon + 1));
}

// The servers, the login and the shown URL; the rest of `url` after the servers is
// returned for the caller ("" or "/NAME").
std::string_view parse_servers(std::string_view url, const NatsAccess &access, Address &address) {
  std::string_view rest;
  if (url.substr(0, kNatsScheme.size()) == kNatsScheme) {
    rest = url.substr(kNatsScheme.size());
  } else if (url.substr(0, kTlsScheme.size()) == kTlsScheme) {
    rest = url.substr(kTlsScheme.size());
    address.login.tls = true;
  } else {
    bad(url, "it does not start with nats:// or tls://");
  }
  const std::size_t slash = std::min(rest.find('/'), rest.size());
  // Checked first, so that no later message quotes a piece of a password as a host or port.
  const std::size_t last_at = rest.rfind('@');
  if (last_at != std::string_view::npos && last_at > slash) {
    bad(url, "a '/' in the login must be percent-encoded (%2F)");
  }
  if (last_at != std::string_view::npos && rest.substr(0, slash).find(',') < last_at) {
    bad(url, "the login comes once, before the first server, with ',' percent-encoded (%2C)");
  }
  bool first = true;
  for (std::string_view host : split(rest.substr(0, slash), ',')) {
    const std::size_t at = first ? host.rfind('@') : std::string_view::npos;
    if (at != std::string_view::npos) {
      take_login(url, host.substr(0, at), access, address.login);
      host.remove_prefix(at + 1);
    }
    first = false;
    address.servers.push_back(server_url(url, host));
  }
  Login &login = address.login;
  if (login.token.empty()) {
    login.token = access.token;
  }
  login.credentials_file = access.credentials_file;
  login.tls_ca_file = access.tls_ca_file;
  login.tls_cert_file = access.tls_cert_file;
  login.tls_key_file = access.tls_key_file;
  // A CA or a certificate means TLS: without it a server claiming no TLS would get the
  // connection in clear.
  login.tls = login.tls || access.tls || !login.tls_ca_file.empty() || !login.tls_cert_file.empty();
  if (login.tls_cert_file.empty() != login.tls_key_file.empty()) {
    bad(url, "a client certificate needs its key, and a key its certificate");
  }
  address.url = masked(url);
  return rest.substr(slash);
}

} // namespace

Address parse_address(std::string_view url, const NatsAccess &access) {
  Address address;
  const std::string_view path = parse_servers(url, access, address);
  if (path.empty()) {
    bad(url, "there is no /NAME after the server");
  }
  address.queue = std::string(path.substr(1));
  if (address.queue.empty() || address.queue.size() > kMaxNameBytes) {
    bad(url, "NAME must have 1 to " + std::to_string(kMaxNameBytes) + " characters");
  }
  for (const char c : address.queue) {
    if (!name_char(c)) {
      bad(url, "NAME may hold only letters, digits, '_' and '-'");
    }
  }
  address.stream = std::string(kStreamPrefix) + address.queue;
  address.subject = "pysyncq." + address.queue;
  return address;
}

Address parse_server_address(std::string_view url, const NatsAccess &access) {
  Address address;
  const std::string_view path = parse_servers(url, access, address);
  if (path.size() > 1) {
    bad(url, "a server address has no /NAME");
  }
  return address;
}

} // namespace pysyncq::nats
