// ZeroMQ over ipc:// (cppzmq): PAIR sockets for ping-pong, PUB/SUB for fanout. PUB drops
// what a subscriber has not joined for yet ("slow joiner"), so fanout runs send warm-up
// payloads until every reader saw one; high-water marks are off, so nothing is dropped
// later (the writer never blocks: ZeroMQ buffers without limit instead).
#pragma once

#include "harness.hpp"

#include <zmq.hpp>

namespace bench {

inline std::string zmq_endpoint(const char *what) {
  static int counter = 0;
  return std::string("ipc:///tmp/pysyncq-bench-zmq-") + what + "-" + std::to_string(getpid()) +
         "-" + std::to_string(counter++);
}

inline void zmq_remove(const std::string &endpoint) {
  ::unlink(endpoint.substr(std::string("ipc://").size()).c_str());
}

class ZmqSide {
public:
  ZmqSide(zmq::socket_type type, const std::string &endpoint, bool bind)
      : context_(1), socket_(context_, type) {
    socket_.set(zmq::sockopt::sndhwm, 0);
    socket_.set(zmq::sockopt::rcvhwm, 0);
    socket_.set(zmq::sockopt::linger, 0);
    if (type == zmq::socket_type::sub) {
      socket_.set(zmq::sockopt::subscribe, "");
    }
    if (bind) {
      socket_.bind(endpoint);
    } else {
      socket_.connect(endpoint);
    }
  }
  void send(const char *data, std::size_t n) {
    (void)socket_.send(zmq::const_buffer(data, n), zmq::send_flags::none);
  }
  std::size_t recv(char *out) {
    const auto got = socket_.recv(message_, zmq::recv_flags::none);
    if (!got) {
      return 0;
    }
    std::memcpy(out, message_.data(), message_.size());
    return message_.size();
  }

private:
  zmq::context_t context_;
  zmq::socket_t socket_;
  zmq::message_t message_;
};

inline void bench_zmq(const Options &options) {
  if (options.wants("zeromq")) {
    for (const std::size_t size : options.latency_sizes()) {
      const std::string endpoint = zmq_endpoint("pair");
      run_pingpong(
          options, "zeromq", size,
          [&] { return ZmqSide(zmq::socket_type::pair, endpoint, true); },
          [&] { return ZmqSide(zmq::socket_type::pair, endpoint, false); },
          [&] { zmq_remove(endpoint); });
    }
  }
  if (options.wants("zeromq-pubsub")) {
    for (const std::size_t size : options.fanout_sizes()) {
      for (const int readers : options.fanout_readers()) {
        const std::string endpoint = zmq_endpoint("pub");
        run_fanout(
            options, "zeromq-pubsub", size, readers, true,
            [&](int) { return ZmqSide(zmq::socket_type::pub, endpoint, true); },
            [&](int) { return ZmqSide(zmq::socket_type::sub, endpoint, false); },
            [&] { zmq_remove(endpoint); });
      }
    }
  }
}

} // namespace bench
