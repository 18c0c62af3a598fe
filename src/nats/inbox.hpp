// A member's inbox: the messages JetStream has delivered to this process and the program
// has not popped yet, handed out strictly in stream order, each once.
//
// Deliveries arrive on the client library's thread; pops run on the caller's. JetStream
// delivers in order, but after a lost ack, a server restart or a leader change it may
// deliver a message again, or one later than a message it is still to re-send. So the
// inbox orders by stream sequence, drops repeats, and holds back a message behind a gap
// (a member's sequences are contiguous: every message appended after it opened is for
// it) until the gap fills, or until `gap_timeout`, when it gives up on the missing ones.
// Pure algorithm: no NATS calls, so the unit tests drive it directly.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>

namespace pysyncq::nats {

struct Delivery {
  std::uint64_t sequence = 0; // the stream sequence: one total order for every member
  std::string reply;          // the ack subject
  std::string sender;
  std::string type;
  std::string body;
};

class Inbox {
public:
  using Clock = std::chrono::steady_clock;

  explicit Inbox(std::chrono::nanoseconds gap_timeout) : gap_timeout_(gap_timeout) {}

  enum class Added {
    kKept,      // new: will be handed out in order
    kDuplicate, // a copy of one that is waiting here: drop it
    kAckAgain,  // a copy of one consumed already: ack it again (the first ack was lost)
  };
  /// Delivery thread. Thread-safe.
  Added add(Delivery &&delivery);
  /// Once the member's consumer exists: the first sequence it delivers. Until then
  /// nothing is handed out (deliveries may arrive before the consumer's creation returns).
  void start_at(std::uint64_t first_sequence);

  // The pop side: one thread at a time (the handle serialises them).

  /// The next message in order, or nullptr. The pointer stays valid until consume().
  const Delivery *next(Clock::time_point now);
  /// Drops what next() returned; it now counts as consumed.
  void consume();
  /// Waits until next() would return a message, `until` passes or close() is called.
  /// Thread-safe.
  bool wait(Clock::time_point until);
  /// Wakes every waiter for good. Thread-safe.
  void close();
  /// True when `sequence` has not been consumed here (so this member still holds it).
  bool holds(std::uint64_t sequence) const;
  /// Messages given up on after a gap outlived gap_timeout.
  std::uint64_t skipped() const;
  std::size_t size() const;

private:
  const Delivery *next_locked(Clock::time_point now);

  const std::chrono::nanoseconds gap_timeout_;
  mutable std::mutex mutex_;
  std::condition_variable arrived_;
  std::map<std::uint64_t, Delivery> waiting_; // by stream sequence
  bool started_ = false;
  bool closed_ = false;
  std::uint64_t next_ = 0; // the sequence to hand out next; everything below is consumed
  std::optional<Clock::time_point> gap_since_;
  std::uint64_t skipped_ = 0;
};

} // namespace pysyncq::nats
