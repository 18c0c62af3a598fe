// A member's inbox: the messages JetStream has delivered to this process and the program
// has not popped yet, handed out strictly in stream order, each once.
//
// Deliveries arrive on the client library's thread; pops run on the caller's. JetStream
// delivers in order, but after a lost ack, a server restart or a leader change it may
// deliver a message again, or one later than a message it is still to re-send. So the
// inbox orders by stream sequence, drops repeats, and holds back a message behind a gap
// (a member's sequences are contiguous: every message appended after it opened is for
// it) until the gap fills, or until `gap_timeout`, when it gives up on the missing ones.
//
// The backlog (issue 13): an appender blocked for space that its own unread messages hold
// back moves them out of the inbox into a private backlog and acks them, so the server
// frees their space; next() serves the backlog first, so the order is unchanged. The
// backlog is bounded by the caller's limit (the queue's capacity, in charged bytes).
// Pure algorithm: no NATS calls, so the unit tests drive it directly.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

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

  /// The next message in order (the backlog's oldest first), or nullptr. The pointer
  /// stays valid until consume(). A backlog message has an empty `reply`: it was acked
  /// when it moved.
  const Delivery *next(Clock::time_point now);
  /// Drops what next() returned; it now counts as consumed.
  void consume();

  struct Moved {
    std::vector<std::string> acks; // ack subjects of what moved or was screened out
    bool full = false;             // the limit stopped it with a message still here
  };
  /// Moves the messages that next() would hand out, in order, into the backlog while
  /// its charged bytes stay within `limit_bytes`; messages `screened` says a pop would
  /// skip are dropped instead (they count as read). The caller acks what it returns.
  Moved move_to_backlog(Clock::time_point now, std::uint64_t limit_bytes,
                        const std::function<std::uint64_t(const Delivery &)> &charge,
                        const std::function<bool(const Delivery &)> &screened);
  std::uint64_t backlog_messages() const;
  std::uint64_t backlog_bytes() const;
  /// True when the last move was stopped by the limit and nothing was popped since.
  bool backlog_full() const;
  /// Waits until next() would return a message, `until` passes or close() is called.
  /// Thread-safe.
  bool wait(Clock::time_point until);
  /// Waits until the message of stream sequence `sequence` has arrived here (or was
  /// consumed, moved to the backlog or given up on behind a gap), for at most
  /// gap_timeout (as long as a gap is waited for), or until close(); true when it has.
  /// For the member's own appends: one it has appended is on its way to it, so its next
  /// pop must see it. Thread-safe.
  bool wait_for_arrival(std::uint64_t sequence);
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
  struct Held {
    Delivery delivery;
    std::uint64_t charged_bytes;
  };
  std::deque<Held> backlog_;
  std::uint64_t backlog_bytes_ = 0;
  bool backlog_full_ = false;
};

} // namespace pysyncq::nats
