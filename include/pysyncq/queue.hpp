// pysyncq: a broadcast queue between processes, in POSIX shared memory.
//
// Every process that opens the queue is both writer and reader. A message appended by
// any member is read by every member registered at that moment, in one total order, and
// its bytes are freed once all of them have read it (or closed, or died).
//
//   auto q = pysyncq::Queue::create("jobs", {.capacity_bytes = 1 << 20});
//   q.open("worker-1");                                   // joins at the tail
//   q.append("greeting", "hello");                        // throws QueueFull when full
//   q.append("greeting", "hello", pysyncq::Deadline::after(2s));  // waits for space
//   if (auto m = q.pop(pysyncq::Deadline::after(500ms))) use(m->sender, m->type, m->body);
//   q.close();                                            // the last close unlinks
//
// Thread safety: one Queue may be used from several threads; calls are serialised
// per handle where they touch the handle's read position. Process safety: any number of
// processes may attach to the same name; crashes of any of them are recovered (see
// docs/design.md, "Crash recovery").
#pragma once

#include "pysyncq/deadline.hpp"
#include "pysyncq/errors.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace pysyncq {

/// How to reach a NATS server that asks for a login or TLS (queue names "nats://..." and
/// "tls://..."); ignored for shared memory. A user and password go in the URL,
/// "nats://USER:PASSWORD@host:4222/NAME" (percent-encode ':', '@', '/', ',' and '%' in
/// them). Queue::name(), Stats::name and every error message show the URL with the
/// password and the token replaced by "***".
struct NatsAccess {
  /// An authorization token (nats-server --auth). "nats://TOKEN@host/NAME" works too;
  /// this keeps it out of the URL.
  std::string token{};
  /// A credentials file: a user JWT and its NKey seed, as `nsc` writes them.
  std::string credentials_file{};
  /// Insist on TLS ("tls://host/NAME" says the same, and so does giving a CA or a client
  /// certificate). A server that requires TLS gets it anyway. The server's certificate
  /// chain is always verified.
  bool tls = false;
  /// PEM file of the certificate authorities that signed the server's certificate
  /// (default: OpenSSL's default trust store).
  std::string tls_ca_file{};
  /// PEM files of this client's certificate and private key, for servers that verify
  /// clients (nats-server --tlsverify). Both or neither.
  std::string tls_cert_file{};
  std::string tls_key_file{};
};

/// Options fixed when a queue is created.
struct CreateOptions {
  /// Bytes of message storage; 0 means the page size. Rounded up to a multiple of 8.
  std::uint64_t capacity_bytes = 0;
  /// How many registrations (open handles) the queue can hold at once.
  std::uint32_t max_members = 256;
  /// Permission bits of /dev/shm/NAME (the umask still applies).
  unsigned mode = 0600;

  // NATS backend only (names "nats://host[:port]/NAME"); ignored for shared memory.
  /// Copies of the stream in a cluster: 1 or 3.
  int replicas = 1;
  /// Keep messages on disk (survives a server restart) instead of in memory.
  bool file_storage = false;
  /// How long a member's connection may be gone before it is dropped and what it had
  /// not read is freed (the network's stand-in for noticing a dead pid).
  std::chrono::milliseconds liveness{std::chrono::seconds(5)};
  /// How to log in to the server, and TLS.
  NatsAccess access{};
};

/// How Queue::attach treats a segment it did not make itself (shared memory only; a
/// NATS queue ignores them). The defaults suit a member; tools that only look use
/// AttachOptions::for_inspection().
struct AttachOptions {
  /// How long to wait for a creator that is still initialising the segment (it takes
  /// microseconds; a file that starts with the magic and is never initialised is not a
  /// queue). Zero: do not wait.
  std::chrono::milliseconds creator_timeout{std::chrono::seconds(2)};
  /// Accept a segment owned by another user. Its owner can read and rewrite every
  /// message, and can make every member wait for ever; allow it only for a queue you
  /// share on purpose (docs/failures.md, "A hostile local user").
  bool allow_foreign_owner = false;
  /// How long stats(), reap() and removing the name wait for the queue lock before they
  /// throw LockHeld. Unset: for ever (a member's own calls always wait: a writer to the
  /// segment can stall them, see docs/failures.md).
  std::optional<std::chrono::milliseconds> inspect_lock_timeout{};

  /// For a tool that only looks (syncq ls, stat): no wait for a creator, any owner, and
  /// the lock waited for at most `lock_timeout`.
  static AttachOptions for_inspection(std::chrono::milliseconds lock_timeout) {
    return AttachOptions{std::chrono::milliseconds(0), true, lock_timeout};
  }
};

/// A message owned by the caller.
struct Message {
  std::string sender;
  std::string type;
  std::string body;
};

/// A message as it lies in the queue; valid only inside the callback that receives it.
struct MessageView {
  std::string_view sender;
  std::string_view type;
  std::string_view body;
};

/// One message of a batch to append (Queue::append_many): its type and body.
struct OutgoingMessage {
  std::string_view type;
  std::string_view body;
};

/// A set of byte strings used to screen messages by sender or type.
struct ByteStringLess {
  using is_transparent = void;
  bool operator()(std::string_view a, std::string_view b) const noexcept { return a < b; }
};
using ScreenSet = std::set<std::string, ByteStringLess>;

/// What one registration looks like from outside (syncq stat, Queue::stats).
struct MemberStats {
  enum class Waiting { kNo, kForMessage, kForSpace };
  std::uint32_t slot = 0;
  int pid = 0;
  std::string sender;
  bool alive = true;
  /// What it has not read yet, its backlog included (record footprints, in bytes).
  std::uint64_t unread_messages = 0;
  std::uint64_t unread_bytes = 0;
  /// Of those, the messages it moved out of the queue into its process's memory: while
  /// blocked appending, or read ahead by a pop (docs/design.md, "Blocked appenders",
  /// "Read-ahead"); at most capacity_bytes.
  std::uint64_t backlog_messages = 0;
  std::uint64_t backlog_bytes = 0;
  Waiting waiting = Waiting::kNo;
  std::chrono::nanoseconds waiting_for{0}; // how long the current wait has lasted
};

/// A snapshot of a queue. Figures may be stale by the time they are read.
struct Stats {
  std::string name;
  std::uint64_t capacity_bytes = 0;
  std::uint64_t used_bytes = 0;       // held back by the slowest member
  std::uint64_t queued_messages = 0;  // messages some member has not read yet
  std::uint32_t max_members = 0;
  std::uint32_t members = 0;          // registrations, dead ones included
  std::uint32_t dead_members = 0;     // registrations whose process is gone, not yet reaped
  std::uint64_t reaped_total = 0;     // dead registrations reaped since creation
  std::uint64_t lock_recoveries = 0;  // times the lock was taken from a dead holder
  std::uint64_t segment_bytes = 0;
  bool unlinked = false;              // the last close removed the name
  std::vector<MemberStats> member_list;
};

/// A handle on a named queue. Move-only; the destructor closes this process's
/// registration (if any) and unmaps the segment. A moved-from handle throws NotOpen
/// from every call that may throw; its noexcept accessors must not be called.
class Queue {
public:
  /// Creates a new queue. Throws SyscallError(EEXIST) if the name is taken,
  /// InvalidArgument on a bad name, size or member limit.
  static Queue create(std::string_view name, const CreateOptions &options = {});
  /// Attaches to an existing queue by name alone. Throws SyscallError(ENOENT) when there is
  /// none, NotAQueue / LayoutMismatch when the segment is not a compatible queue.
  /// A NATS server that refuses the login throws SyscallError(EACCES); TLS failures
  /// SyscallError(EPROTO).
  static Queue attach(std::string_view name, const NatsAccess &access = {});
  /// As attach(name, access), with `options` for a segment this process did not make:
  /// throws ForeignOwner for one owned by another user (unless allowed), NotAQueue for
  /// one whose creator has not finished within options.creator_timeout.
  static Queue attach(std::string_view name, const AttachOptions &options,
                      const NatsAccess &access = {});
  /// Removes a queue's name (like `rm /dev/shm/NAME`); processes already attached go on.
  /// The name is marked removed in the segment only once it is gone, so that a failure
  /// (EPERM) leaves the last member's close to remove it as usual.
  static void unlink(std::string_view name, const NatsAccess &access = {});

  Queue(Queue &&) noexcept;
  Queue &operator=(Queue &&) noexcept;
  Queue(const Queue &) = delete;
  Queue &operator=(const Queue &) = delete;
  ~Queue();

  /// Registers this process as a member; it will read every message appended from now on.
  /// `sender` names it in the messages it appends (empty: its pid in decimal).
  /// Reaps dead members first. Throws TooManyMembers, InvalidArgument if already open here.
  void open(std::string_view sender = {});
  /// True when this process holds a registration through this handle.
  bool is_open() const noexcept;
  /// Unregisters; what this member had not read is freed at once. Idempotent. The last
  /// member to close unlinks the name. Never throws for a handle that is not open.
  void close();

  /// Appends a message, waiting for space until `deadline`. Throws QueueFull when it does
  /// not fit in time (at once if it is larger than the capacity), Deadlock when waiting
  /// can never succeed, NotOpen without a registration. Blocks: only with a deadline.
  /// While it waits, it never holds back the space it waits for: its own unread messages
  /// move into a private backlog of this handle (at most capacity_bytes), which later pops
  /// serve first. Waiting appends get space in the order they started waiting.
  /// Deadlock means: every member holding the oldest unread message is blocked appending
  /// with its backlog full (the caller itself included). A registration that a second
  /// thread has used is never counted as blocked, since that thread may read.
  void append(std::string_view type, std::string_view body,
              Deadline deadline = Deadline::now());
  /// Appends without waiting; false when there is not enough free space.
  [[nodiscard]] bool try_append(std::string_view type, std::string_view body);
  /// Appends `messages` in order as one batch: all of them or none, next to each other
  /// in the total order. Waits until `deadline` for room for the whole batch, with one
  /// place in line; throws as append does (QueueFull at once when together they exceed
  /// the capacity). On shared memory: one lock round and at most one wake per batch.
  /// On nats:// the messages are published one by one, so an appender racing for the
  /// last space can leave a prefix appended: QueueFull then says how many went in.
  void append_many(std::span<const OutgoingMessage> messages,
                   Deadline deadline = Deadline::now());
  /// As append_many without waiting; false (nothing appended) when the batch does not fit.
  [[nodiscard]] bool try_append_many(std::span<const OutgoingMessage> messages);

  /// Pops the next unread, unscreened message, waiting until `deadline`; nullopt if none.
  std::optional<Message> pop(Deadline deadline = Deadline::now());
  /// As pop, reusing `out`'s buffers (no allocation once they are large enough).
  /// `read_ahead`: as try_pop_visit's.
  bool pop_into(Message &out, Deadline deadline = Deadline::now(), std::size_t read_ahead = 0);
  /// As pop, but hands the message to `visit` in place, without copying it out
  /// (fields that wrap around the ring's end are copied once). Does not wait.
  /// `read_ahead` > 0 is for a reader that pops message after message (an iterator): a
  /// pop that takes its message from shared memory also moves up to that many of the
  /// messages after it (at most 4 KiB of them, none over 512 bytes) into this handle's
  /// backlog, freeing their space with the same cursor store (so an appender blocked for
  /// space is woken once for them, not once per pop). Nothing else changes: every read
  /// of this handle (pop, pop_many, wait_for_message, notify_fd) serves the backlog
  /// first, screens apply when a message is popped (not when it moved), stats() count it
  /// as unread, close() and a forked child's open() drop it. A hint: the nats://
  /// backend, whose pops read a local inbox already, ignores it.
  bool try_pop_visit(const std::function<void(const MessageView &)> &visit,
                     std::size_t read_ahead = 0);
  /// Pops up to `max_messages` unread, unscreened messages, oldest first, handing each to
  /// `visit` in place; waits until `deadline` for the first one. Returns how many were
  /// visited. If `visit` throws, the messages before it are read, that one and the rest
  /// are not. On shared memory: one cursor store and at most one wake per batch.
  std::size_t pop_many_visit(std::size_t max_messages,
                             const std::function<void(const MessageView &)> &visit,
                             Deadline deadline = Deadline::now());
  /// As pop_many_visit, appending copies of the messages to `out`.
  std::size_t pop_many(std::vector<Message> &out, std::size_t max_messages,
                       Deadline deadline = Deadline::now());

  /// Waits until this member has an unread message or the deadline passes; returns
  /// whether one is there. It may return for a message that the screens skip (then pop
  /// finds nothing), but appends of only such messages need not wake it (shared memory:
  /// docs/design.md, "Waking only who wants a message"). For bindings that pop with a
  /// lock of their own.
  bool wait_for_message(Deadline deadline);
  /// Waits until `needed_bytes` are free or the deadline passes; throws as append does
  /// when it can never succeed (too large, deadlock). Returns whether space is there.
  bool wait_for_space(std::uint64_t needed_bytes, Deadline deadline);
  /// Bytes that this message takes in this queue when this handle appends it (its sender
  /// since open()), counted as the queue's backend counts them: what append needs free,
  /// what wait_for_space() and arm_for_space() should be given. Does not block or throw.
  std::uint64_t footprint(std::string_view type, std::string_view body) const;
  /// Bytes that a message with these field sizes takes in a shared-memory queue (its
  /// record). Other backends count otherwise: use the member footprint() for any queue.
  static std::uint64_t footprint(std::size_t sender_bytes, std::size_t type_bytes,
                                 std::size_t body_bytes) noexcept;

  /// Messages whose sender or type is in these sets are skipped by pop (they still count
  /// as read). Not shared with other handles.
  ScreenSet &screened_senders() noexcept;
  ScreenSet &screened_types() noexcept;

  /// Changes how this handle waits (see WaitPolicy).
  void set_wait_policy(WaitPolicy policy) noexcept;
  /// Called before each sleep and after each interrupted system call of a blocking wait;
  /// it may throw (Interrupted, say) to abort the wait. Bindings use it for signals.
  void set_interrupt_hook(std::function<void()> hook);

  /// For event loops (asyncio, epoll): a file descriptor owned by this handle that becomes
  /// readable after arm_for_message() once this member has an unread message (perhaps one
  /// its screens skip, as wait_for_message; or the registration is gone), or after arm_for_space(n) once n bytes are free
  /// (or the append can never succeed). Each arm clears it first; then pop or append
  /// without waiting, and arm again if that found nothing. A helper thread per handle does
  /// the waiting while armed; nothing runs while disarmed. Not for use across fork.
  int notify_fd();
  void arm_for_message();
  void arm_for_space(std::uint64_t needed_bytes);
  void disarm();

  /// Reaps members whose process is gone; returns how many. Any attached process may call.
  std::uint32_t reap();
  /// Removes this queue's name now, as Queue::unlink does. `take_lock` false skips the
  /// queue lock (for a lock that a hung or hostile process holds: syncq rm --force): the
  /// name goes at once, and only a last close racing with it could try to remove the name
  /// again, which finds it gone or belonging to a newer queue and leaves it.
  void remove_name(bool take_lock = true);
  /// A snapshot of the geometry, usage and members. Takes the queue lock briefly.
  Stats stats() const;

  const std::string &name() const noexcept;
  std::uint64_t capacity_bytes() const noexcept;
  std::uint32_t max_members() const noexcept;
  /// This handle's sender name (empty when not open).
  const std::string &sender() const noexcept;

  class Impl;

private:
  explicit Queue(std::unique_ptr<Impl> impl) noexcept;
  Impl &live() const;
  class Notifier &notifier();
  void drop_notifier() noexcept;
  std::unique_ptr<Impl> impl_;
  std::unique_ptr<class Notifier> notifier_; // destroyed first: its thread uses impl_
};

/// Names of every pysyncq queue in /dev/shm: regular files that start with our magic and
/// whose creator has finished. Never waits and never blocks, whatever else /dev/shm holds
/// (FIFOs, other programs' segments, files that only start with the magic).
std::vector<std::string> list_queues();

/// One entry of /dev/shm, as list_segments() classifies it without waiting.
struct SegmentInfo {
  enum class Kind {
    kQueue,        // starts with the magic and its creator finished: attach() may work
    kInitialising, // starts with the magic, not (yet) initialised: a creator at work, or junk
    kOther,        // anything else: another program's segment, a FIFO, unreadable...
  };
  std::string name;
  Kind kind = Kind::kOther;
  /// For kOther: why, in a few words ("a FIFO or other special file", "no pysyncq magic",
  /// "not readable by this user", "empty").
  std::string detail;
  /// The file's owner (kQueue and kInitialising; 0 otherwise).
  unsigned owner_uid = 0;
};
/// Every entry of /dev/shm, classified, in name order. Never waits; throws only when
/// /dev/shm cannot be read.
std::vector<SegmentInfo> list_segments();
/// Every pysyncq queue on the NATS server(s) `server`, "nats://host[:port]" (or tls://,
/// with a login as in a queue URL), as queue URLs: `server` + "/NAME", in name order.
/// Streams not made by pysyncq are skipped. Throws InvalidArgument for another kind of
/// name, and as Queue::attach when the server cannot be reached.
std::vector<std::string> list_queues(std::string_view server, const NatsAccess &access = {});

} // namespace pysyncq
