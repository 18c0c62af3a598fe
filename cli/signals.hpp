// Stopping on Ctrl-C: SIGINT and SIGTERM ask blocking waits to stop, cleanly.
#pragma once

namespace syncq {

/// Installs handlers for SIGINT and SIGTERM that ask blocking waits to stop (see
/// stop_requested()). Without SA_RESTART, so a futex sleep returns EINTR and the queue
/// runs its interrupt hook.
void install_stop_handlers();
/// True once SIGINT or SIGTERM arrived.
bool stop_requested() noexcept;
/// An interrupt hook for Queue::set_interrupt_hook: throws pysyncq::Interrupted once a
/// stop was asked.
void throw_if_stop_requested();

} // namespace syncq
