// The bound class pysyncq._pysyncq.Queue: one pysyncq::Queue handle per Python object.
// pysyncq.PySyncQ (pysyncq/pysyncq.py) subclasses it and adds the guide's pure-Python
// parts (start methods, pickling, iteration, sets); the hot paths (append, pop) are
// these methods, called directly from CPython by fast_path.cpp, the one file that
// relies on CPython and pybind11 internals.
//
// GIL rules: everything that touches Python objects or the screen sets runs with the
// GIL, so one instance is safe from many threads (the C++ handle serialises its own
// state; the screen sets are only read by try_pop_visit, which we call with the GIL).
// Only the waits drop it; the interrupt hook takes it back to run signal handlers.
#include "queue.hpp"

#include "errors.hpp"
#include "fast_path.hpp"

#include "pysyncq/queue.hpp"

#include <pybind11/stl.h>

#include <array>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace py = pybind11;
using namespace std::chrono_literals;

namespace pysyncq::python {

namespace {

// Whether the current wait runs in the thread that handles signals (CPython runs
// handlers in the main thread of the main interpreter only). Set by wait_without_gil
// with the GIL held, read by the hook in the same thread without it.
thread_local bool signals_handled_here = false;

// An indefinite wait in the main thread still wakes this often to run signal handlers,
// closing the window between the hook's check and the futex sleep (a signal in it does
// not interrupt the sleep). Waits of other threads sleep for their whole deadline.
constexpr auto kSignalCheckInterval = 200ms;

// A str/bytes/any argument seen as bytes: the guide's conversion rule (bytes as they
// are, str as UTF-8, anything else as str(obj) in UTF-8). `keep` owns what str() made.
struct BytesArgument {
  std::string_view bytes;
  py::object keep;
};

BytesArgument as_bytes(py::handle object) {
  PyObject *raw = object.ptr();
  if (PyBytes_Check(raw)) {
    return {{PyBytes_AS_STRING(raw), static_cast<std::size_t>(PyBytes_GET_SIZE(raw))}, {}};
  }
  py::object text;
  if (!PyUnicode_Check(raw)) {
    text = py::reinterpret_steal<py::object>(PyObject_Str(raw));
    if (!text) {
      throw py::error_already_set();
    }
    raw = text.ptr();
  }
  Py_ssize_t size = 0;
  const char *utf8 = PyUnicode_AsUTF8AndSize(raw, &size); // cached in the str: no copy
  if (utf8 == nullptr) {
    throw py::error_already_set();
  }
  return {{utf8, static_cast<std::size_t>(size)}, std::move(text)};
}

bool truthy(py::handle object) {
  const int value = PyObject_IsTrue(object.ptr());
  if (value < 0) {
    throw py::error_already_set();
  }
  return value != 0;
}

// The guide's timer: None waits for ever, a number is seconds (0 or less: no wait).
// Converted once per call, so skipping screened messages does not restart it.
Deadline deadline_from(py::handle timer) {
  if (timer.is_none()) {
    return Deadline::never();
  }
  const double seconds = PyFloat_AsDouble(timer.ptr());
  if (seconds == -1.0 && PyErr_Occurred() != nullptr) {
    throw py::error_already_set();
  }
  if (std::isnan(seconds)) {
    throw py::value_error("timer must be a number of seconds or None, not NaN");
  }
  if (seconds <= 0.0) {
    return Deadline::now();
  }
  constexpr double kNeverSeconds = 1e9; // 31 years: beyond it, a deadline is never
  if (seconds >= kNeverSeconds) {
    return Deadline::never();
  }
  return Deadline::after(std::chrono::nanoseconds(static_cast<std::int64_t>(seconds * 1e9)));
}

Deadline earlier(Deadline a, Deadline b) noexcept { return a.when() <= b.when() ? a : b; }

// Runs a blocking append of the core without the GIL. The core runs the interrupt hook
// before each of its sleeps; an Interrupted it throws left a Python error pending, which
// is raised here with the GIL back.
template <class Append> void append_without_gil(Append &&append) {
  signals_handled_here = is_main_thread();
  bool interrupted = false;
  {
    py::gil_scoped_release no_gil;
    try {
      append();
    } catch (const Interrupted &) {
      interrupted = true;
    }
  }
  if (interrupted) {
    raise_pending_interrupt();
  }
}

// While the core visits messages under the handle's lock, pops build only str/bytes:
// they are not tracked by the garbage collector, so making them cannot run a collection
// (and arbitrary finalizers) while the handle is locked. A finalizer that released the
// GIL there could let another thread of ours block on the handle's mutex while holding
// the GIL: a deadlock. The one tracked object a decode can make is its
// UnicodeDecodeError, so decoding pops keep the collector off.
class CollectorPause {
public:
  explicit CollectorPause(bool pause) : was_enabled_(pause && PyGC_Disable() != 0) {}
  ~CollectorPause() {
    if (was_enabled_) {
      PyGC_Enable();
    }
  }
  CollectorPause(const CollectorPause &) = delete;
  CollectorPause &operator=(const CollectorPause &) = delete;

private:
  bool was_enabled_;
};

// The three fields of a message as new str or bytes, or all null with a Python error set.
using Fields = std::array<PyObject *, 3>;
Fields make_fields(const MessageView &view, bool decode) {
  Fields fields{};
  const std::string_view parts[3] = {view.sender, view.type, view.body};
  for (std::size_t index = 0; index < fields.size(); ++index) {
    const char *data = parts[index].data();
    const auto size = static_cast<Py_ssize_t>(parts[index].size());
    fields[index] = decode ? PyUnicode_DecodeUTF8(data, size, nullptr)
                           : PyBytes_FromStringAndSize(data, size);
    if (fields[index] == nullptr) {
      for (PyObject *&made : fields) {
        Py_CLEAR(made);
      }
      return fields;
    }
  }
  return fields;
}

// A (sender, type, body) tuple that steals the fields.
PyObject *steal_into_tuple(Fields &fields) {
  PyObject *tuple = PyTuple_New(3);
  if (tuple == nullptr) {
    return nullptr;
  }
  for (std::size_t index = 0; index < fields.size(); ++index) {
    PyTuple_SET_ITEM(tuple, static_cast<Py_ssize_t>(index), fields[index]); // steals
    fields[index] = nullptr;
  }
  return tuple;
}

// Runs `wait(deadline)` without the GIL until it reports readiness or `deadline` passes.
// In the main thread the wait is cut into slices, after each of which pending signal
// handlers run (the hook covers signals that interrupt the sleep itself).
template <class Wait> bool wait_without_gil(Wait &&wait, Deadline deadline) {
  // Asked each time (with the GIL): after a fork from another thread, that thread is
  // the child's main thread.
  const bool main_thread = is_main_thread();
  signals_handled_here = main_thread;
  for (;;) {
    const Deadline slice =
        main_thread ? earlier(deadline, Deadline::after(kSignalCheckInterval)) : deadline;
    bool ready = false;
    bool interrupted = false;
    {
      py::gil_scoped_release no_gil;
      try {
        ready = wait(slice);
      } catch (const Interrupted &) {
        interrupted = true; // the hook left a Python error pending; raise it with the GIL
      }
    }
    if (interrupted) {
      raise_pending_interrupt();
    }
    if (ready) {
      return true;
    }
    if (deadline.has_passed()) {
      return false;
    }
    if (PyErr_CheckSignals() != 0) {
      throw py::error_already_set();
    }
  }
}

// Called by the core before each futex sleep and after each EINTR of a wait, without the
// GIL. A signal handler that raises (SIGINT's raises KeyboardInterrupt) aborts the wait;
// the error stays pending in this thread for wait_without_gil to raise.
void check_signals_hook() {
  if (!signals_handled_here) {
    return; // no handler can run in this thread: do not take the GIL for nothing
  }
  py::gil_scoped_acquire gil;
  if (PyErr_CheckSignals() != 0) {
    throw Interrupted("a signal handler raised during a pysyncq wait");
  }
}

py::dict member_stats_dict(const MemberStats &member) {
  static const char *const kWaiting[] = {"no", "message", "space"};
  py::dict entry;
  entry["slot"] = member.slot;
  entry["pid"] = member.pid;
  entry["sender"] = py::reinterpret_steal<py::str>(PyUnicode_DecodeUTF8(
      member.sender.data(), static_cast<Py_ssize_t>(member.sender.size()), "backslashreplace"));
  entry["alive"] = member.alive;
  entry["unread_messages"] = member.unread_messages;
  entry["unread_bytes"] = member.unread_bytes;
  entry["backlog_messages"] = member.backlog_messages;
  entry["backlog_bytes"] = member.backlog_bytes;
  entry["waiting"] = kWaiting[static_cast<int>(member.waiting)];
  entry["waiting_seconds"] = std::chrono::duration<double>(member.waiting_for).count();
  return entry;
}

} // namespace

QueueObject::QueueObject(Queue queue) : queue_(std::move(queue)) {
  queue_.set_interrupt_hook(&check_signals_hook);
  // The core's adaptive default, as in C++: Python programs often run more processes than
  // cores, and the adaptive wait sleeps at once there (docs/design.md, "Adaptive waits").
}

Queue &QueueObject::usable() {
  if (closed_) {
    throw py::value_error("queue '" + queue_.name() + "' is closed");
  }
  return queue_;
}

void QueueObject::open(py::handle sender) {
  Queue &queue = usable();
  // The core's open runs without the GIL: it takes the queue lock, which another process
  // may hold, and maps the ring's pages (up to 64 MiB: about 0.1 s on a VM whose
  // hypervisor shadows page tables), and other threads of ours need not wait for either.
  // It touches no Python object: the name's bytes are kept alive by `name` (or `sender`).
  if (sender.is_none()) {
    py::gil_scoped_release no_gil;
    queue.open(); // the core names it by pid, as the guide's default str(os.getpid())
    return;
  }
  const BytesArgument name = as_bytes(sender);
  if (name.bytes.empty()) {
    throw py::value_error("sender name must not be empty");
  }
  py::gil_scoped_release no_gil;
  queue.open(name.bytes);
}

void QueueObject::close() {
  if (closed_) {
    return;
  }
  queue_.close();
  closed_ = true;
}

void QueueObject::append(py::handle msgtype, py::handle msg, py::handle block, py::handle timer) {
  Queue &queue = usable();
  const BytesArgument type = as_bytes(msgtype);
  const BytesArgument body = as_bytes(msg);
  if (queue.try_append(type.bytes, body.bytes)) {
    return;
  }
  const std::uint64_t needed = queue.footprint(type.bytes, body.bytes);
  if (needed > queue.capacity_bytes()) {
    // Says "can never fit" (QueueFull) rather than "is full", blocking or not.
    (void)queue.wait_for_space(needed, Deadline::now());
  }
  if (!truthy(block)) {
    queue.append(type.bytes, body.bytes, Deadline::now()); // throws QueueFull with the sizes
    return;
  }
  // One blocking call of the core for the whole timer, so that this append keeps its
  // place in line (a space ticket) from start to end. The core runs the interrupt hook
  // before each of its sleeps, which are at most 100 ms: signal handlers run in time.
  // The bytes stay valid without the GIL: `type` and `body` keep what they point into,
  // and bytes and str are immutable.
  const Deadline deadline = deadline_from(timer);
  append_without_gil([&] { queue.append(type.bytes, body.bytes, deadline); });
}

PyObject *QueueObject::try_pop(bool decode, std::size_t read_ahead) {
  // What the visitor makes, reached through one pointer: a visitor that small lives
  // inside its std::function, so a pop allocates nothing but the message's objects.
  struct Popped {
    bool decode;
    bool undecodable = false;
    Fields fields{};
    void release() noexcept {
      for (PyObject *&field : fields) {
        Py_CLEAR(field);
      }
    }
  } popped{decode};
  // Builds only str/bytes here (see CollectorPause).
  const CollectorPause pause(decode);
  const auto visit = [state = &popped](const MessageView &view) {
    state->fields = make_fields(view, state->decode);
    if (state->fields[0] != nullptr) {
      return;
    }
    if (state->decode && PyErr_ExceptionMatches(PyExc_UnicodeDecodeError) != 0) {
      // Consume the message (as the original does) and raise: leaving it unread would
      // make every later pop fail on it. pop(decode=False) reads such bytes.
      state->undecodable = true;
      return;
    }
    throw py::error_already_set(); // out of memory: the message stays unread
  };
  const bool found = queue_.try_pop_visit(visit, read_ahead);
  if (popped.undecodable) {
    throw py::error_already_set();
  }
  if (!found) {
    return nullptr;
  }
  PyObject *tuple = steal_into_tuple(popped.fields);
  if (tuple == nullptr) {
    popped.release();
    throw py::error_already_set();
  }
  return tuple;
}

py::object QueueObject::pop(py::handle block, py::handle timer, py::handle decode,
                            std::size_t read_ahead) {
  Queue &queue = usable();
  const bool as_text = truthy(decode);
  if (PyObject *message = try_pop(as_text, read_ahead)) {
    return py::reinterpret_steal<py::object>(message);
  }
  if (!truthy(block)) {
    return py::none();
  }
  const Deadline deadline = deadline_from(timer);
  // wait_for_message may return for screened messages; try_pop consumes those.
  while (
      wait_without_gil([&](Deadline slice) { return queue.wait_for_message(slice); }, deadline)) {
    if (PyObject *message = try_pop(as_text, read_ahead)) {
      return py::reinterpret_steal<py::object>(message);
    }
    if (deadline.has_passed()) {
      break;
    }
  }
  return py::none();
}

py::list QueueObject::try_pop_many(std::size_t max_messages, bool decode) {
  // Stops a batch before the message it is thrown for: that one stays unread.
  struct StopBefore {};
  std::vector<Fields> popped;
  bool undecodable = false;
  const auto release_popped = [&] {
    for (Fields &fields : popped) {
      for (PyObject *&field : fields) {
        Py_CLEAR(field);
      }
    }
  };
  {
    const CollectorPause pause(decode);
    try {
      (void)queue_.pop_many_visit(max_messages, [&](const MessageView &view) {
        if (undecodable) {
          throw StopBefore{}; // the undecodable message ends the batch; raised below
        }
        Fields fields = make_fields(view, decode);
        if (fields[0] != nullptr) {
          popped.push_back(fields);
          return;
        }
        const bool decode_error =
            decode && PyErr_ExceptionMatches(PyExc_UnicodeDecodeError) != 0;
        if (!popped.empty()) {
          // Deliver what came before; the next call meets this message first and raises.
          PyErr_Clear();
          throw StopBefore{};
        }
        if (decode_error) {
          // As pop: consume it and raise, or every later pop would fail on it.
          undecodable = true;
          return;
        }
        throw py::error_already_set(); // out of memory: the message stays unread
      });
    } catch (const StopBefore &) { // NOLINT(bugprone-empty-catch): the batch ends here
    } catch (...) {
      release_popped();
      throw;
    }
  }
  if (undecodable) {
    throw py::error_already_set();
  }
  py::list messages(popped.size());
  for (std::size_t index = 0; index < popped.size(); ++index) {
    PyObject *tuple = steal_into_tuple(popped[index]);
    if (tuple == nullptr) {
      release_popped(); // the tuples made so far belong to `messages`
      throw py::error_already_set();
    }
    PyList_SET_ITEM(messages.ptr(), static_cast<Py_ssize_t>(index), tuple); // steals
  }
  return messages;
}

py::list QueueObject::pop_many(py::handle max_messages, py::handle block, py::handle timer,
                               py::handle decode) {
  Queue &queue = usable();
  const Py_ssize_t most = PyNumber_AsSsize_t(max_messages.ptr(), PyExc_OverflowError);
  if (most == -1 && PyErr_Occurred() != nullptr) {
    throw py::error_already_set();
  }
  if (most < 0) {
    throw py::value_error("max_messages must be 0 or more, not " + std::to_string(most));
  }
  const bool as_text = truthy(decode);
  py::list messages = try_pop_many(static_cast<std::size_t>(most), as_text);
  if (!messages.empty() || most == 0 || !truthy(block)) {
    return messages;
  }
  const Deadline deadline = deadline_from(timer);
  // wait_for_message may return for screened messages; try_pop_many consumes those.
  while (
      wait_without_gil([&](Deadline slice) { return queue.wait_for_message(slice); }, deadline)) {
    messages = try_pop_many(static_cast<std::size_t>(most), as_text);
    if (!messages.empty() || deadline.has_passed()) {
      break;
    }
  }
  return messages;
}

void QueueObject::append_many(py::handle messages, py::handle block, py::handle timer) {
  Queue &queue = usable();
  // Each (msgtype, msg) pair converts as append's arguments. `fields` holds each field
  // object itself (another thread may change a list of pairs while we wait without the
  // GIL) and `kept` what the conversions made, so the views stay valid until we return.
  std::vector<py::object> fields;
  std::vector<BytesArgument> kept;
  std::vector<OutgoingMessage> batch;
  for (py::handle item : py::iter(messages)) {
    if (!PySequence_Check(item.ptr()) || PyUnicode_Check(item.ptr()) ||
        PyBytes_Check(item.ptr()) || PySequence_Size(item.ptr()) != 2) {
      PyErr_Clear();
      throw py::type_error("append_many takes (msgtype, msg) pairs, not " +
                           std::string(Py_TYPE(item.ptr())->tp_name));
    }
    for (Py_ssize_t index = 0; index < 2; ++index) {
      fields.push_back(py::reinterpret_steal<py::object>(PySequence_GetItem(item.ptr(), index)));
      if (!fields.back()) {
        throw py::error_already_set();
      }
      kept.push_back(as_bytes(fields.back()));
    }
  }
  batch.reserve(kept.size() / 2);
  for (std::size_t index = 0; index < kept.size(); index += 2) {
    batch.push_back(OutgoingMessage{kept[index].bytes, kept[index + 1].bytes});
  }
  if (queue.try_append_many(batch)) {
    return;
  }
  if (!truthy(block)) {
    queue.append_many(batch, Deadline::now()); // throws QueueFull with the sizes
    return;
  }
  // As append: one blocking call of the core for the whole timer (one place in line).
  const Deadline deadline = deadline_from(timer);
  append_without_gil([&] { queue.append_many(batch, deadline); });
}

ScreenSet &QueueObject::screen(int which) {
  return which == 0 ? queue_.screened_senders() : queue_.screened_types();
}

void QueueObject::screen_add(int which, py::handle element) {
  screen(which).emplace(as_bytes(element).bytes);
}

bool QueueObject::screen_discard(int which, py::handle element) {
  ScreenSet &set = screen(which);
  const auto found = set.find(as_bytes(element).bytes);
  if (found == set.end()) {
    return false;
  }
  set.erase(found);
  return true;
}

bool QueueObject::screen_contains(int which, py::handle element) {
  const ScreenSet &set = screen(which);
  return set.find(as_bytes(element).bytes) != set.end();
}

std::size_t QueueObject::screen_size(int which) { return screen(which).size(); }

py::list QueueObject::screen_items(int which) {
  py::list items;
  for (const std::string &element : screen(which)) {
    items.append(py::bytes(element));
  }
  return items;
}

void QueueObject::screen_clear(int which) { screen(which).clear(); }

py::dict QueueObject::stats() {
  Stats stats;
  {
    py::gil_scoped_release no_gil; // takes the queue lock and reads /proc per member
    stats = queue_.stats();
  }
  py::dict result;
  result["name"] = stats.name;
  result["capacity_bytes"] = stats.capacity_bytes;
  result["used_bytes"] = stats.used_bytes;
  result["free_bytes"] = stats.capacity_bytes - std::min(stats.used_bytes, stats.capacity_bytes);
  result["queued_messages"] = stats.queued_messages;
  result["max_members"] = stats.max_members;
  result["members"] = stats.members;
  result["dead_members"] = stats.dead_members;
  result["reaped_total"] = stats.reaped_total;
  result["lock_recoveries"] = stats.lock_recoveries;
  result["segment_bytes"] = stats.segment_bytes;
  result["unlinked"] = stats.unlinked;
  py::list members;
  for (const MemberStats &member : stats.member_list) {
    members.append(member_stats_dict(member));
  }
  result["member_list"] = members;
  return result;
}

std::uint32_t QueueObject::reap() {
  Queue &queue = usable();
  py::gil_scoped_release no_gil; // takes the queue lock and reads /proc per member
  return queue.reap();
}

void QueueObject::set_wait_policy(double spin_seconds, bool adaptive) {
  if (std::isnan(spin_seconds) || spin_seconds < 0) {
    throw py::value_error("spin time must be 0 or more seconds");
  }
  if (std::isinf(spin_seconds)) {
    queue_.set_wait_policy(WaitPolicy::spin_only()); // never sleeps: nothing to adapt
    return;
  }
  const std::chrono::nanoseconds spin(static_cast<std::int64_t>(spin_seconds * 1e9));
  queue_.set_wait_policy(adaptive ? WaitPolicy::adaptive_up_to(spin) : WaitPolicy::fixed(spin));
}

py::object QueueObject::sender() const {
  const std::string &name = queue_.sender();
  if (closed_ || name.empty()) {
    return py::none();
  }
  return py::reinterpret_steal<py::object>(
      PyUnicode_DecodeUTF8(name.data(), static_cast<Py_ssize_t>(name.size()), "surrogateescape"));
}

namespace {

// Binds a member function as a method whose self is checked by self_of.
template <auto Method> struct Checked;
template <class R, class... A, R (QueueObject::*Method)(A...)> struct Checked<Method> {
  static R call(py::handle self, A... args) {
    return (self_of(self.ptr()).*Method)(std::forward<A>(args)...);
  }
};
template <class R, class... A, R (QueueObject::*Method)(A...) const> struct Checked<Method> {
  static R call(py::handle self, A... args) {
    return (self_of(self.ptr()).*Method)(std::forward<A>(args)...);
  }
};

// The login and TLS keywords of PySyncQ, list_queues and unlink, as one NatsAccess.
NatsAccess access_of(const std::string &token, const std::string &creds, bool tls,
                     const std::string &tls_ca, const std::string &tls_cert,
                     const std::string &tls_key) {
  NatsAccess access;
  access.token = token;
  access.credentials_file = creds;
  access.tls = tls;
  access.tls_ca_file = tls_ca;
  access.tls_cert_file = tls_cert;
  access.tls_key_file = tls_key;
  return access;
}

} // namespace

void bind_queue(py::module_ &module) {

  py::class_<QueueObject> type(module, "Queue", R"doc(
A handle on a pysyncq queue in shared memory (the C++ core, bound as is).

Use pysyncq.PySyncQ, which subclasses it; this class has the low-level constructor:
Queue(name, create, size, max_members=256, mode=0o600). create=True makes a new queue
(FileExistsError if the name is taken), create=False attaches (FileNotFoundError if
there is none, ValueError if the segment is not a compatible queue, PermissionError if
another user owns it and allow_foreign_owner is False).
)doc");
  type.def(py::init([](const std::string &name, bool create, std::uint64_t size,
                       std::uint32_t max_members, unsigned mode, int replicas, bool file_storage,
                       double liveness, const std::string &token, const std::string &creds,
                       bool tls, const std::string &tls_ca, const std::string &tls_cert,
                       const std::string &tls_key, bool allow_foreign_owner) {
             // NATS only: how to log in, and TLS; shared memory ignores them.
             const NatsAccess access = access_of(token, creds, tls, tls_ca, tls_cert, tls_key);
             if (!create) {
               AttachOptions attach;
               attach.allow_foreign_owner = allow_foreign_owner;
               return new QueueObject(Queue::attach(name, attach, access));
             }
             // NATS only (names "nats://host[:port]/NAME"); shared memory ignores them.
             if (std::isnan(liveness) || liveness <= 0.0 || liveness > 1e6) {
               throw py::value_error("liveness must be a number of seconds above 0");
             }
             CreateOptions options;
             options.capacity_bytes = size;
             options.max_members = max_members;
             options.mode = mode;
             options.replicas = replicas;
             options.file_storage = file_storage;
             options.liveness = std::chrono::milliseconds(std::llround(liveness * 1000.0));
             options.access = access;
             return new QueueObject(Queue::create(name, options));
           }),
           py::arg("name"), py::arg("create"), py::arg("size"), py::arg("max_members") = 256,
           py::arg("mode") = 0600, py::arg("replicas") = 1, py::arg("file_storage") = false,
           py::arg("liveness") = 5.0, py::kw_only(), py::arg("token") = "", py::arg("creds") = "",
           py::arg("tls") = false, py::arg("tls_ca") = "", py::arg("tls_cert") = "",
           py::arg("tls_key") = "", py::arg("allow_foreign_owner") = false)
      .def("_open", &Checked<&QueueObject::open>::call, py::arg("sender"),
           "Registers this process (sender None: its pid). Raises ValueError if already open "
           "here or closed, RuntimeError if the member limit is reached.")
      .def("close", &Checked<&QueueObject::close>::call,
           "Unregisters this process if it opened the queue here (what it had not read is "
           "freed) and unlinks the name if no member remains. Idempotent.")
      .def("append_many", &Checked<&QueueObject::append_many>::call, py::arg("messages"),
           py::arg("block") = false, py::arg("timer") = 0.5,
           "Appends an iterable of (msgtype, msg) pairs as one batch: all of them or none "
           "(on nats://, a racing appender can leave a prefix: MemoryError says how many "
           "went in). Waits for room for the whole batch as append(block, timer) does.")
      .def("pop_many", &Checked<&QueueObject::pop_many>::call, py::arg("max_messages") = 1024,
           py::arg("block") = false, py::arg("timer") = 0.5, py::arg("decode") = true,
           "Pops up to max_messages unread, unscreened messages in one call: a list, empty "
           "when none came (block and timer wait for the first, as pop's do).")
      .def("_screen_add", &Checked<&QueueObject::screen_add>::call)
      .def("_screen_discard", &Checked<&QueueObject::screen_discard>::call)
      .def("_screen_contains", &Checked<&QueueObject::screen_contains>::call)
      .def("_screen_size", &Checked<&QueueObject::screen_size>::call)
      .def("_screen_items", &Checked<&QueueObject::screen_items>::call)
      .def("_screen_clear", &Checked<&QueueObject::screen_clear>::call)
      .def("_stats", &Checked<&QueueObject::stats>::call)
      .def("reap", &Checked<&QueueObject::reap>::call,
           "Unregisters members whose process has died and frees what they held back; "
           "returns how many. The core also does this on open and during blocked appends.")
      .def("_set_wait_policy", &Checked<&QueueObject::set_wait_policy>::call,
           py::arg("spin_seconds"), py::arg("adaptive"))
      .def("_notify_fd", &Checked<&QueueObject::notify_fd>::call,
           "The eventfd that asyncio watches (see pysyncq/aio.py).")
      .def("_arm_for_message", &Checked<&QueueObject::arm_for_message>::call)
      .def("_arm_for_space", &Checked<&QueueObject::arm_for_space>::call, py::arg("needed_bytes"))
      .def("_disarm", &Checked<&QueueObject::disarm>::call)
      .def_property_readonly("sender", &Checked<&QueueObject::sender>::call,
                             "This process's sender name, or None when it has not opened "
                             "the queue (or closed it).")
      .def_property_readonly("is_open", &Checked<&QueueObject::is_open>::call,
                             "True when this process has opened the queue through this "
                             "instance and not closed it (False in a forked child until it "
                             "opens).")
      .def_property_readonly("closed", &Checked<&QueueObject::closed>::call,
                             "True after close() in this process.")
      .def_property_readonly("_shm_name", &Checked<&QueueObject::name>::call)
      .def_property_readonly("_capacity_bytes", &Checked<&QueueObject::capacity_bytes>::call)
      .def_property_readonly("_max_members", &Checked<&QueueObject::max_members>::call)
      .def_static("_footprint",
                  py::overload_cast<std::size_t, std::size_t, std::size_t>(&Queue::footprint),
                  py::arg("sender_bytes"), py::arg("type_bytes"),
                  py::arg("body_bytes"));
  install_fast_path(type); // append and pop (fast_path.cpp)

  // As `syncq ls SERVER` and `syncq rm URL`: a NATS server or queue URL, with the login
  // and TLS keywords of PySyncQ.
  module.def(
      "list_queues",
      [](const std::optional<std::string> &server, const std::string &token,
         const std::string &creds, bool tls, const std::string &tls_ca, const std::string &tls_cert,
         const std::string &tls_key) {
        if (!server) {
          return list_queues();
        }
        return list_queues(*server, access_of(token, creds, tls, tls_ca, tls_cert, tls_key));
      },
      py::arg("server") = py::none(), py::kw_only(), py::arg("token") = "", py::arg("creds") = "",
      py::arg("tls") = false, py::arg("tls_ca") = "", py::arg("tls_cert") = "",
      py::arg("tls_key") = "",
      "Names of every pysyncq queue in /dev/shm (other segments are skipped); or, given a "
      "NATS server ('nats://host[:port]', 'tls://...', a login in it as in a queue URL), "
      "the URL of each of its queues (other streams are skipped). ValueError for a server "
      "that is not a nats:// or tls:// URL.");
  module.def(
      "unlink",
      [](const std::string &name, bool allow_foreign_owner, const std::string &token,
         const std::string &creds, bool tls, const std::string &tls_ca, const std::string &tls_cert,
         const std::string &tls_key) {
        AttachOptions options;
        options.allow_foreign_owner = allow_foreign_owner;
        Queue::attach(name, options, access_of(token, creds, tls, tls_ca, tls_cert, tls_key))
            .remove_name();
      },
      py::arg("name"), py::kw_only(), py::arg("allow_foreign_owner") = false, py::arg("token") = "",
      py::arg("creds") = "", py::arg("tls") = false, py::arg("tls_ca") = "",
      py::arg("tls_cert") = "", py::arg("tls_key") = "",
      "Removes a queue's name now (like rm /dev/shm/NAME); attached processes go on. A "
      "nats:// URL deletes its stream, whoever is registered. Raises FileNotFoundError if "
      "there is none, ValueError if it is not a pysyncq queue, PermissionError if another "
      "user owns it (unless allow_foreign_owner) or may not remove it.");
}

} // namespace pysyncq::python
