// The Python face of one pysyncq::Queue handle (bound in queue.cpp as
// pysyncq._pysyncq.Queue). Every method is called with the GIL held.
#pragma once

#include "pysyncq/queue.hpp"

#include <pybind11/pybind11.h>

#include <cstddef>
#include <cstdint>
#include <string>

namespace pysyncq::python {

class QueueObject {
public:
  explicit QueueObject(Queue queue);

  void open(pybind11::handle sender);
  void close();
  void append(pybind11::handle msgtype, pybind11::handle msg, pybind11::handle block,
              pybind11::handle timer);
  // `read_ahead`: Queue::try_pop_visit's (an iteration's pops read ahead, iterator.cpp).
  pybind11::object pop(pybind11::handle block, pybind11::handle timer, pybind11::handle decode,
                       std::size_t read_ahead = 0);
  // Batches: one call of the core each (Queue::append_many, pop_many_visit).
  void append_many(pybind11::handle messages, pybind11::handle block, pybind11::handle timer);
  pybind11::list pop_many(pybind11::handle max_messages, pybind11::handle block,
                          pybind11::handle timer, pybind11::handle decode);

  // The screen sets, by index: 0 senders, 1 types. Elements convert as append's arguments.
  void screen_add(int which, pybind11::handle element);
  bool screen_discard(int which, pybind11::handle element);
  bool screen_contains(int which, pybind11::handle element);
  std::size_t screen_size(int which);
  pybind11::list screen_items(int which);
  void screen_clear(int which);

  // asyncio (pysyncq/aio.py): the handle's event-loop fd and its arming.
  int notify_fd() { return usable().notify_fd(); }
  void arm_for_message() { usable().arm_for_message(); }
  void arm_for_space(std::uint64_t needed_bytes) { usable().arm_for_space(needed_bytes); }
  void disarm() { queue_.disarm(); }

  pybind11::dict stats();
  std::uint32_t reap();
  void set_wait_policy(double spin_seconds, bool adaptive);

  pybind11::object sender() const;
  bool is_open() const { return !closed_ && queue_.is_open(); }
  bool closed() const { return closed_; }
  const std::string &name() const { return queue_.name(); }
  std::uint64_t capacity_bytes() const { return queue_.capacity_bytes(); }
  std::uint32_t max_members() const { return queue_.max_members(); }

private:
  Queue &usable(); // throws ValueError after close()
  // Pops one message without waiting: a new (sender, type, body) tuple, or nullptr.
  PyObject *try_pop(bool decode, std::size_t read_ahead);
  // Pops up to `max_messages` without waiting: a list of new tuples (maybe empty).
  pybind11::list try_pop_many(std::size_t max_messages, bool decode);
  ScreenSet &screen(int which);

  Queue queue_;
  bool closed_ = false; // set by close(); the segment stays mapped until the object dies
};

void bind_queue(pybind11::module_ &module);

} // namespace pysyncq::python
