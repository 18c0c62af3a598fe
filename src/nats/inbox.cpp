#include "nats/inbox.hpp"

namespace pysyncq::nats {

Inbox::Added Inbox::add(Delivery &&delivery) {
  {
    std::lock_guard lock(mutex_);
    if (started_ && delivery.sequence < next_) {
      return Added::kAckAgain;
    }
    const std::uint64_t sequence = delivery.sequence;
    if (!waiting_.try_emplace(sequence, std::move(delivery)).second) {
      return Added::kDuplicate;
    }
  }
  arrived_.notify_all();
  return Added::kKept;
}

void Inbox::start_at(std::uint64_t first_sequence) {
  {
    std::lock_guard lock(mutex_);
    started_ = true;
    next_ = first_sequence;
    waiting_.erase(waiting_.begin(), waiting_.lower_bound(first_sequence));
  }
  arrived_.notify_all();
}

const Delivery *Inbox::next_locked(Clock::time_point now) {
  if (!started_ || waiting_.empty()) {
    gap_since_.reset();
    return nullptr;
  }
  auto first = waiting_.begin();
  if (first->first != next_) {
    // first->first > next_: add() never keeps what is below next_.
    if (!gap_since_) {
      gap_since_ = now;
    }
    if (now - *gap_since_ < gap_timeout_) {
      return nullptr;
    }
    skipped_ += first->first - next_;
    next_ = first->first;
  }
  gap_since_.reset();
  return &first->second;
}

const Delivery *Inbox::next(Clock::time_point now) {
  std::lock_guard lock(mutex_);
  return next_locked(now);
}

void Inbox::consume() {
  std::lock_guard lock(mutex_);
  if (!waiting_.empty() && waiting_.begin()->first == next_) {
    waiting_.erase(waiting_.begin());
    ++next_;
  }
}

bool Inbox::wait(Clock::time_point until) {
  std::unique_lock lock(mutex_);
  for (;;) {
    const Clock::time_point now = Clock::now();
    if (closed_) {
      return false;
    }
    // next_locked() only moves next_ past a gap that has timed out: what a pop would do.
    if (next_locked(now) != nullptr) {
      return true;
    }
    if (now >= until) {
      return false;
    }
    Clock::time_point wake = until;
    if (gap_since_ && *gap_since_ + gap_timeout_ < wake) {
      wake = *gap_since_ + std::chrono::duration_cast<Clock::duration>(gap_timeout_);
    }
    arrived_.wait_until(lock, wake);
  }
}

void Inbox::close() {
  {
    std::lock_guard lock(mutex_);
    closed_ = true;
  }
  arrived_.notify_all();
}

bool Inbox::holds(std::uint64_t sequence) const {
  std::lock_guard lock(mutex_);
  return !started_ || sequence >= next_;
}

std::uint64_t Inbox::skipped() const {
  std::lock_guard lock(mutex_);
  return skipped_;
}

std::size_t Inbox::size() const {
  std::lock_guard lock(mutex_);
  return waiting_.size();
}

} // namespace pysyncq::nats
