// A NATS queue name, "nats://host[:port][,host[:port]...]/NAME", taken apart: the servers
// to dial and the JetStream names that one queue maps to. No I/O here.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace pysyncq::nats {

inline constexpr int kDefaultPort = 4222;

struct Address {
  std::string url;                  // as the user gave it: Queue::name() returns it
  std::vector<std::string> servers; // "nats://host:port", in the order given
  std::string queue;                // NAME
  std::string stream;               // "PYSYNCQ_NAME": one stream per queue
  std::string subject;              // "pysyncq.NAME": the stream's only subject
};

/// Parses a queue URL. Throws InvalidArgument, naming what is wrong, when it is not
/// "nats://host[:port][,host[:port]...]/NAME" with NAME made of letters, digits, '_'
/// and '-' (NATS forbids '.', '*', '>' and spaces in stream names and subject tokens).
Address parse_address(std::string_view url);

} // namespace pysyncq::nats
