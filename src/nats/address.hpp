// A NATS queue name, "nats://[LOGIN@]host[:port][,host[:port]...]/NAME" (or "tls://..."),
// taken apart: the servers to dial, how to log in, and the JetStream names that one queue
// maps to. No I/O here.
#pragma once

#include "pysyncq/queue.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace pysyncq::nats {

inline constexpr int kDefaultPort = 4222;

/// How to log in: from the URL's "USER:PASSWORD@" or "TOKEN@" and from NatsAccess.
struct Login {
  std::string user;
  std::string password;
  std::string token;
  std::string credentials_file;
  bool tls = false;
  std::string tls_ca_file;
  std::string tls_cert_file;
  std::string tls_key_file;
};

struct Address {
  std::string url;                  // as given, password and token shown as "***": for
                                    // Queue::name() and every message
  std::vector<std::string> servers; // "nats://host:port", no login, in the order given
  std::string queue;                // NAME ("" for a server address)
  std::string stream;               // "PYSYNCQ_NAME": one stream per queue
  std::string subject;              // "pysyncq.NAME": the stream's only subject
  Login login;
};

/// The stream of the queue NAME, and what marks a stream as one of ours.
inline constexpr std::string_view kStreamPrefix = "PYSYNCQ_";

/// Parses a queue URL. Throws InvalidArgument, naming what is wrong (never the password
/// or token), when it is not "nats://[LOGIN@]host[:port][,host[:port]...]/NAME" (or
/// tls://) with NAME made of letters, digits, '_' and '-' (NATS forbids '.', '*', '>' and
/// spaces in stream names and subject tokens), or when the URL and `access` both give a
/// token, or a certificate comes without its key.
Address parse_address(std::string_view url, const NatsAccess &access);
/// The same for a server alone, "nats://[LOGIN@]host[:port][,...]" with no NAME (a
/// trailing '/' is allowed): for listing its queues.
Address parse_server_address(std::string_view url, const NatsAccess &access);

} // namespace pysyncq::nats
