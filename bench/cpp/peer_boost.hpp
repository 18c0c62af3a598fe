// boost::interprocess::message_queue: a mutex and two condition variables in shared
// memory (it sleeps in the kernel). Ping-pong over two queues; fanout emulates broadcast
// with one queue per reader, the writer sending each message to every queue.
#pragma once

#include "harness.hpp"

#include <boost/interprocess/ipc/message_queue.hpp>

#include <memory>

namespace bench {

namespace bip = boost::interprocess;

inline std::string boost_queue_name(const char *what, int index) {
  static int counter = 0;
  return std::string("pysyncq-bench-boost-") + what + "-" + std::to_string(getpid()) + "-" +
         std::to_string(counter++) + "-" + std::to_string(index);
}

class BoostQueues {
public:
  BoostQueues(const char *what, int count, std::size_t max_size, std::size_t depth) {
    for (int i = 0; i < count; ++i) {
      names_.push_back(boost_queue_name(what, i));
      bip::message_queue::remove(names_.back().c_str());
      bip::message_queue(bip::create_only, names_.back().c_str(), depth, max_size);
    }
  }
  ~BoostQueues() {
    for (const std::string &name : names_) {
      bip::message_queue::remove(name.c_str());
    }
  }
  BoostQueues(const BoostQueues &) = delete;
  BoostQueues &operator=(const BoostQueues &) = delete;
  const std::string &name(int i) const { return names_[static_cast<std::size_t>(i)]; }

private:
  std::vector<std::string> names_;
};

class BoostSide {
public:
  BoostSide(std::vector<std::string> out, const std::string &in) {
    for (const std::string &name : out) {
      out_.push_back(std::make_unique<bip::message_queue>(bip::open_only, name.c_str()));
    }
    if (!in.empty()) {
      in_ = std::make_unique<bip::message_queue>(bip::open_only, in.c_str());
    }
  }
  void send(const char *data, std::size_t n) {
    for (auto &queue : out_) {
      queue->send(data, n, 0);
    }
  }
  std::size_t recv(char *out) {
    bip::message_queue::size_type received = 0;
    unsigned priority = 0;
    in_->receive(out, in_->get_max_msg_size(), received, priority);
    return received;
  }

private:
  std::vector<std::unique_ptr<bip::message_queue>> out_;
  std::unique_ptr<bip::message_queue> in_;
};

inline void bench_boost(const Options &options) {
  if (options.wants("boost-mq")) {
    for (const std::size_t size : options.latency_sizes()) {
      BoostQueues queues("pingpong", 2, size + 64, 16);
      run_pingpong(
          options, "boost-mq", size, [&] { return BoostSide({queues.name(0)}, queues.name(1)); },
          [&] { return BoostSide({queues.name(1)}, queues.name(0)); });
    }
  }
  if (options.wants("boost-mq")) {
    for (const std::size_t size : options.fanout_sizes()) {
      for (const int readers : options.fanout_readers()) {
        BoostQueues queues("fanout", readers, size + 64, size <= 256 ? 1024 : 256);
        std::vector<std::string> all;
        for (int r = 0; r < readers; ++r) {
          all.push_back(queues.name(r));
        }
        run_fanout(
            options, "boost-mq", size, readers, false,
            [&](int) { return BoostSide(all, ""); },
            [&](int r) { return BoostSide({}, queues.name(r)); });
      }
    }
  }
}

} // namespace bench
