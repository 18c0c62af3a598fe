// Batches: the defaults of Queue::Impl, message by message, for a backend without a
// cheaper batch (NATS publishes each message on its own), and the facade's pop_many.
#include "backend.hpp"

#include <string>

namespace pysyncq {

namespace {

// Says in a QueueFull (or Deadlock) how much of a batch went in before it.
std::string partial_text(std::size_t appended, std::size_t total, const char *why) {
  return std::to_string(appended) + " of the batch's " + std::to_string(total) +
         " messages were appended before this one: " + why;
}

// Appends messages[first...] one by one, each as Impl::append does; a failure after the
// first message of the batch says how many went in.
void append_from(Queue::Impl &queue, std::span<const OutgoingMessage> messages,
                 std::size_t first, Deadline deadline) {
  for (std::size_t index = first; index < messages.size(); ++index) {
    try {
      queue.append(messages[index].type, messages[index].body, deadline);
    } catch (const Deadlock &error) {
      if (index == 0) {
        throw;
      }
      throw Deadlock(partial_text(index, messages.size(), error.what()), error.needed_bytes(),
                     error.free_bytes(), error.capacity_bytes(), error.blocked_pids());
    } catch (const QueueFull &error) {
      if (index == 0) {
        throw;
      }
      throw QueueFull(partial_text(index, messages.size(), error.what()), error.needed_bytes(),
                      error.free_bytes(), error.capacity_bytes());
    }
  }
}

// What the whole batch takes, as this backend counts it.
std::uint64_t batch_footprint(const Queue::Impl &queue, std::span<const OutgoingMessage> messages) {
  std::uint64_t needed = 0;
  for (const OutgoingMessage &message : messages) {
    needed += queue.footprint(message.type, message.body);
  }
  return needed;
}

} // namespace

// Room for the whole batch first, so that without a racing appender it is all or none;
// then one message after another.
bool Queue::Impl::try_append_many(std::span<const OutgoingMessage> messages) {
  if (messages.size() > 1 && !wait_for_space(batch_footprint(*this, messages), Deadline::now())) {
    return false;
  }
  for (std::size_t index = 0; index < messages.size(); ++index) {
    if (!try_append(messages[index].type, messages[index].body)) {
      if (index == 0) {
        return false; // nothing appended: the batch did not fit
      }
      // Another appender took the space between two of ours: the prefix stays, and the
      // rest is tried once more without waiting (it throws, saying how many went in).
      append_from(*this, messages, index, Deadline::now());
      return true;
    }
  }
  return true;
}

void Queue::Impl::append_many(std::span<const OutgoingMessage> messages, Deadline deadline) {
  if (messages.size() > 1) {
    const std::uint64_t needed = batch_footprint(*this, messages);
    if (!wait_for_space(needed, deadline)) {
      const bool waited = deadline.when() != Deadline::now().when();
      throw QueueFull("queue '" + name() + "' has no room for a batch of " +
                          std::to_string(messages.size()) + " messages, " +
                          std::to_string(needed) + " bytes together" +
                          (waited ? " (wait timed out)" : ""),
                      needed, 0, capacity());
    }
  }
  append_from(*this, messages, 0, deadline);
}

std::size_t Queue::Impl::try_pop_many_visit(std::size_t max_messages,
                                            const std::function<void(const MessageView &)> &visit) {
  std::size_t popped = 0;
  while (popped < max_messages && try_pop_visit(visit, 0)) {
    ++popped;
  }
  return popped;
}

// --- the facade ---

void Queue::append_many(std::span<const OutgoingMessage> messages, Deadline deadline) {
  if (!messages.empty()) {
    live().append_many(messages, deadline);
  }
}
bool Queue::try_append_many(std::span<const OutgoingMessage> messages) {
  return messages.empty() || live().try_append_many(messages);
}

std::size_t Queue::pop_many_visit(std::size_t max_messages,
                                  const std::function<void(const MessageView &)> &visit,
                                  Deadline deadline) {
  if (max_messages == 0) {
    return 0;
  }
  for (;;) {
    if (const std::size_t popped = live().try_pop_many_visit(max_messages, visit); popped != 0) {
      return popped;
    }
    if (deadline.has_passed() || !live().wait_for_message(deadline)) {
      return 0;
    }
  }
}
std::size_t Queue::pop_many(std::vector<Message> &out, std::size_t max_messages,
                            Deadline deadline) {
  return pop_many_visit(
      max_messages,
      [&](const MessageView &view) {
        out.push_back(Message{std::string(view.sender), std::string(view.type),
                              std::string(view.body)});
      },
      deadline);
}

} // namespace pysyncq
