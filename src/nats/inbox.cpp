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
  if (!backlog_.empty()) {
    return &backlog_.front().delivery;
  }
  return next_locked(now);
}

void Inbox::consume() {
  std::lock_guard lock(mutex_);
  if (!backlog_.empty()) {
    backlog_bytes_ -= backlog_.front().charged_bytes;
    backlog_.pop_front();
    backlog_full_ = false;
    return;
  }
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
    if (!backlog_.empty() || next_locked(now) != nullptr) {
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

bool Inbox::wait_for_arrival(std::uint64_t sequence) {
  std::unique_lock lock(mutex_);
  return arrived_.wait_for(lock, gap_timeout_, [&] {
    return closed_ || (started_ && (sequence < next_ || waiting_.contains(sequence)));
  }) && !closed_;
}

Inbox::Moved Inbox::move_to_backlog(Clock::time_point now, std::uint64_t limit_bytes,
                                    const std::function<std::uint64_t(const Delivery &)> &charge,
                                    const std::function<bool(const Delivery &)> &screened) {
  std::lock_guard lock(mutex_);
  Moved moved;
  while (const Delivery *message = next_locked(now)) {
    auto first = waiting_.begin(); // next_locked() returned it: it is the one at next_
    if (screened(*message)) {
      moved.acks.push_back(std::move(first->second.reply));
    } else {
      const std::uint64_t bytes = charge(*message);
      if (backlog_bytes_ + bytes > limit_bytes) {
        moved.full = true;
        break;
      }
      moved.acks.push_back(std::move(first->second.reply));
      first->second.reply.clear();
      backlog_.push_back(Held{std::move(first->second), bytes});
      backlog_bytes_ += bytes;
    }
    waiting_.erase(first);
    ++next_;
  }
  backlog_full_ = moved.full;
  return moved;
}

std::uint64_t Inbox::backlog_messages() const {
  std::lock_guard lock(mutex_);
  return backlog_.size();
}

std::uint64_t Inbox::backlog_bytes() const {
  std::lock_guard lock(mutex_);
  return backlog_bytes_;
}

bool Inbox::backlog_full() const {
  std::lock_guard lock(mutex_);
  return backlog_full_;
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
