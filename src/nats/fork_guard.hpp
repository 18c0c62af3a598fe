// Keeps fork() from handing the child a nats.c lock that another thread of the parent
// held, so that the child can make its own NATS connection.
//
// fork() copies only the calling thread. nats.c runs threads of its own (a collector that
// frees every message, a timer thread, a callback thread, a reader per connection, a
// delivery thread per subscription) and guards its process-wide state with mutexes those
// threads take. A mutex held by one of them at the instant of the fork stays held for ever
// in the child, whose first NATS call then hangs: seen as a child stuck in
// natsMsg_Destroy() on the collector's mutex, right after its parent appended (the
// append's reply woke the collector), and under AddressSanitizer on the allocator's lock.
//
// So a fork first makes the parent quiet: our callbacks on nats.c threads are held at a
// gate, then the fork waits (at most 250 ms) until every other thread of the process
// sleeps. nats.c never sleeps holding one of those mutexes, so a sleeping thread holds
// none. What is left is a thread woken in the microseconds between that check and the
// fork itself (a message arriving then, a ping timer firing), and any thread of the
// program's own that does not sleep (the fork then just waits the 250 ms). Not fixable
// here: the child has none of nats.c's threads, so the messages it frees are never
// freed (docs/nats.md, "What cannot match shared memory").
#pragma once

namespace pysyncq::nats {

/// Installs the fork handlers, once per process. Call before the first nats.c call.
void guard_forks();

/// Held for the whole of every callback that nats.c runs on its threads: while a fork
/// is being prepared, a callback waits here instead of calling into nats.c.
class CallbackGate {
public:
  CallbackGate() noexcept;
  CallbackGate(const CallbackGate &) = delete;
  CallbackGate &operator=(const CallbackGate &) = delete;
  ~CallbackGate();
};

} // namespace pysyncq::nats
