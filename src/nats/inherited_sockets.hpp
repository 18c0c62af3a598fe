// A forked child must not keep its parent's NATS connections open: the server only drops
// a member once its connection closes, and a socket closes when the last process holding
// it does. So if the parent were killed, the copies in its children would keep its member
// (and everything that member has not read) alive for as long as the children run.
// Each connection's socket is remembered here; a pthread_atfork handler closes them all in
// every child, which makes connections of its own when it opens a queue.
#pragma once

#include <cstdint>

namespace pysyncq::nats {

/// Records the socket of `connection` (a natsConnection*) by its local port: finds its
/// descriptor in /proc/self/fd. Call after connecting and after each reconnect.
void remember_socket(const void *connection, int local_port) noexcept;
/// Stops remembering the socket(s) of `connection`.
void forget_socket(const void *connection) noexcept;

} // namespace pysyncq::nats
