// The floors of raw NATS (nats.c) that our nats:// queue builds on, on the same servers:
//   nats-core         pingpong over plain subjects (no JetStream, no storage, no acks):
//                     what one hop through the server costs, the least a nats:// queue
//                     can take one way
//   js-publish        one writer, synchronous JetStream publishes (each waits for the
//                     stream's ack): what our append does, one round trip per message
//   js-publish-async  the same with up to 4000 publishes in flight: the rate NATS
//                     advertises, which an append that must refuse a full queue at once
//                     cannot use (docs/nats.md, "Throughput is a round trip per append")
// Publish floors have no readers: their rate is messages stored per second.
#pragma once

#include "harness.hpp"
#include "support/nats_server.hpp"

#include <nats/nats.h>

#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

namespace bench {

inline void nats_check(natsStatus status, const char *what) {
  if (status != NATS_OK) {
    throw std::runtime_error(std::string(what) + ": " + natsStatus_GetText(status) + " (" +
                             nats_GetLastError(nullptr) + ")");
  }
}

// "nats://H:P" of the first node: nats.c wants URLs without our "/NAME".
inline std::string nats_first_server(const pysyncq::testing::NatsServers &servers) {
  const std::string all = servers.url(""); // "nats://H:P[,H:P...]/"
  return all.substr(0, all.find_first_of(",/", std::string("nats://").size()));
}

// One side of a core NATS pingpong: receives on `in`, sends on `out`. Sends go out at
// once (SendAsap), not when nats.c's flusher thread next runs.
class NatsCoreSide {
public:
  NatsCoreSide(const std::string &server, const std::string &in, std::string out)
      : out_(std::move(out)) {
    natsOptions *options = nullptr;
    nats_check(natsOptions_Create(&options), "natsOptions_Create");
    (void)natsOptions_SetURL(options, server.c_str());
    (void)natsOptions_SetSendAsap(options, true);
    const natsStatus status = natsConnection_Connect(&connection_, options);
    natsOptions_Destroy(options);
    nats_check(status, "natsConnection_Connect");
    nats_check(natsConnection_SubscribeSync(&subscription_, connection_, in.c_str()),
               "natsConnection_SubscribeSync");
    // The server knows the subscription before the other side may send.
    nats_check(natsConnection_Flush(connection_), "natsConnection_Flush");
  }
  NatsCoreSide(const NatsCoreSide &) = delete;
  NatsCoreSide &operator=(const NatsCoreSide &) = delete;
  ~NatsCoreSide() {
    natsSubscription_Destroy(subscription_);
    natsConnection_Destroy(connection_);
  }

  void send(const char *data, std::size_t n) {
    nats_check(natsConnection_Publish(connection_, out_.c_str(), data, static_cast<int>(n)),
               "natsConnection_Publish");
  }
  std::size_t recv(char *out) {
    natsMsg *message = nullptr;
    nats_check(natsSubscription_NextMsg(&message, subscription_, 60'000), "NextMsg");
    const auto n = static_cast<std::size_t>(natsMsg_GetDataLength(message));
    std::memcpy(out, natsMsg_GetData(message), n);
    natsMsg_Destroy(message);
    return n;
  }

private:
  std::string out_;
  natsConnection *connection_ = nullptr;
  natsSubscription *subscription_ = nullptr;
};

// Messages of `size` bytes stored per second by one writer into a fresh memory stream
// with `replicas` copies, for fanout_seconds(); `in_flight` > 1 publishes asynchronously.
inline double js_publish_rate(const Options &options, const std::string &server, int replicas,
                              std::size_t size, int in_flight) {
  natsConnection *connection = nullptr;
  nats_check(natsConnection_ConnectTo(&connection, server.c_str()), "natsConnection_ConnectTo");
  jsOptions js_options;
  jsOptions_Init(&js_options);
  js_options.PublishAsync.MaxPending = in_flight;
  js_options.PublishAsync.StallWait = 10'000; // ms: a loaded machine may stall, not fail
  jsCtx *js = nullptr;
  nats_check(natsConnection_JetStream(&js, connection, &js_options), "JetStream");
  const std::string name = "BENCH_" + std::to_string(getpid()) + "_" + std::to_string(now_ns());
  const std::string subject = "bench." + name;
  const char *subjects[] = {subject.c_str()};
  jsStreamConfig config;
  jsStreamConfig_Init(&config);
  config.Name = name.c_str();
  config.Subjects = subjects;
  config.SubjectsLen = 1;
  config.Storage = js_MemoryStorage;
  config.Replicas = replicas;
  config.MaxBytes = 64 << 20; // old messages go: the floor measures storing, not holding
  config.Discard = js_DiscardOld;
  jsErrCode error = static_cast<jsErrCode>(0);
  nats_check(js_AddStream(nullptr, js, &config, nullptr, &error), "js_AddStream");
  const std::vector<char> payload = make_payload(size, kDataMark);
  const auto budget = std::chrono::duration<double>(options.fanout_seconds());
  std::uint64_t sent = 0;
  const auto start = Clock::now();
  while ((sent & 63) != 0 || Clock::now() - start < budget) {
    if (in_flight > 1) {
      nats_check(js_PublishAsync(js, subject.c_str(), payload.data(),
                                 static_cast<int>(payload.size()), nullptr),
                 "js_PublishAsync");
    } else {
      nats_check(js_Publish(nullptr, js, subject.c_str(), payload.data(),
                            static_cast<int>(payload.size()), nullptr, &error),
                 "js_Publish");
    }
    ++sent;
  }
  if (in_flight > 1) {
    nats_check(js_PublishAsyncComplete(js, nullptr), "js_PublishAsyncComplete");
  }
  const double seconds = seconds_since(start);
  (void)js_DeleteStream(js, name.c_str(), nullptr, &error);
  jsCtx_Destroy(js);
  natsConnection_Destroy(connection);
  return static_cast<double>(sent) / seconds;
}

inline void bench_nats_floors(const Options &options, const pysyncq::testing::NatsServers &servers,
                              int replicas, std::size_t size) {
  const std::string server = nats_first_server(servers);
  if (servers.size() == 1 && options.wants("nats-core")) {
    const std::string subject = "bench.core." + std::to_string(getpid());
    run_pingpong(
        options, "nats-core", size,
        [&] { return NatsCoreSide(server, subject + ".back", subject + ".forth"); },
        [&] { return NatsCoreSide(server, subject + ".forth", subject + ".back"); });
  }
  for (const int in_flight : {1, 4000}) {
    const char *contender = in_flight > 1 ? "js-publish-async" : "js-publish";
    if (!options.wants(contender)) {
      continue;
    }
    std::vector<double> rates;
    for (int run = 0; run < options.fanout_runs(); ++run) {
      rates.push_back(js_publish_rate(options, server, replicas, size, in_flight));
    }
    const Summary summary = summarize(rates);
    Record("publish", contender, options)
        .add("size", static_cast<std::uint64_t>(size))
        .add("in_flight", in_flight)
        .add("msgs_per_s", summary.median)
        .add("msgs_per_s_min", summary.min)
        .add("msgs_per_s_max", summary.max)
        .add_values("runs", rates)
        .print();
    char text[200];
    std::snprintf(text, sizeof text, "publish  %-30s %6zu B  %10.0f msgs/s",
                  progress_label(options, contender).c_str(), size, summary.median);
    progress(text);
  }
}

} // namespace bench
