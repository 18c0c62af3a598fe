#include "notifier.hpp"

#include "platform/liveness.hpp"

namespace pysyncq {

namespace {
using namespace std::chrono_literals;
// The helper's waits are cut into slices so that disarm() and the destructor are obeyed
// within this time even while it sleeps in the kernel (about five wake-ups a second
// while armed; none while disarmed).
constexpr auto kSlice = 200ms;
// While waiting for both a message and space, the message wait takes this share of a
// slice and the space check none: each wait for space then still ends within a slice.
constexpr int kSharedSliceDivisor = 20;
thread_local bool tls_in_notifier = false;
} // namespace

Notifier::Notifier(Queue::Impl &impl)
    : impl_(impl), fork_generation_(platform::fork_generation()) {
  thread_ = std::make_unique<std::thread>([this] { run(); });
}

Notifier::~Notifier() {
  // Only ever destroyed in the process that made it (see inherited()).
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
    ++request_;
  }
  changed_.notify_all();
  thread_->join();
}

bool Notifier::inherited() const noexcept {
  return fork_generation_ != platform::fork_generation();
}

void Notifier::abandon() noexcept { wake_.close(); }

bool Queue::Impl::in_notifier_thread() noexcept { return tls_in_notifier; }

void Notifier::arm_for_message() {
  wake_.drain();
  {
    std::lock_guard lock(mutex_);
    want_message_ = true;
    ++request_;
  }
  armed_changed();
}

void Notifier::arm_for_space(std::uint64_t needed_bytes) {
  wake_.drain();
  {
    std::lock_guard lock(mutex_);
    want_space_bytes_ = needed_bytes == 0 ? 1 : needed_bytes;
    ++request_;
  }
  armed_changed();
}

void Notifier::disarm() {
  {
    std::lock_guard lock(mutex_);
    want_message_ = false;
    want_space_bytes_ = 0;
    ++request_;
  }
  armed_changed();
}

void Notifier::armed_changed() { changed_.notify_all(); }

// One slice of waiting for what is wanted. Waiting for both at once (one coroutine
// wants a message, another space) alternates short waits: rare, and still bounded.
bool Notifier::wait_once(bool message, std::uint64_t space_bytes) {
  try {
    if (message && space_bytes != 0) {
      return impl_.wait_for_message(Deadline::after(kSlice / kSharedSliceDivisor)) ||
             impl_.wait_for_space(space_bytes, Deadline::now());
    }
    return message ? impl_.wait_for_message(Deadline::after(kSlice))
                   : impl_.wait_for_space(space_bytes, Deadline::after(kSlice));
  } catch (const std::exception &) {
    return true; // closed, deadlocked, or can never fit: let the awaiting call find out
  }
}

void Notifier::run() {
  tls_in_notifier = true;
  std::unique_lock lock(mutex_);
  for (;;) {
    changed_.wait(lock, [&] { return stop_ || want_message_ || want_space_bytes_ != 0; });
    if (stop_) {
      return;
    }
    const bool message = want_message_;
    const std::uint64_t space_bytes = want_space_bytes_;
    const std::uint64_t request = request_;
    lock.unlock();
    bool ready = false;
    bool current = true;
    while (!ready && current) {
      ready = wait_once(message, space_bytes);
      lock.lock();
      current = request_ == request && !stop_;
      lock.unlock();
    }
    lock.lock();
    if (ready && request_ == request) {
      want_message_ = false;
      want_space_bytes_ = 0;
      wake_.signal();
    }
  }
}

} // namespace pysyncq
