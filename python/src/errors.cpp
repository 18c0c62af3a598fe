// The mapping from the C++ core's exceptions to Python's builtin exceptions, in one
// table (STYLE.md, "Errors"). tests/python/test_pysyncq_errors.py checks every row
// through _raise_for_test, which throws each C++ type on demand.
#include "errors.hpp"

#include "pysyncq/errors.hpp"

#include <cerrno>
#include <cstring>
#include <string>
#include <utility>

namespace py = pybind11;

namespace pysyncq::python {

namespace {

// Owned by the module object for the interpreter's lifetime (module attributes).
PyObject *queue_full_type = nullptr;
PyObject *deadlock_type = nullptr;

// what() may quote sender names written by any process, so it need not be UTF-8.
py::str text_of(const std::exception &error) {
  const char *what = error.what();
  return py::reinterpret_steal<py::str>(
      PyUnicode_DecodeUTF8(what, static_cast<Py_ssize_t>(std::strlen(what)), "replace"));
}

void set_error(PyObject *type, const std::exception &error) {
  PyErr_SetObject(type, text_of(error).ptr());
}

// QueueFull carries its numbers as attributes, so callers need not parse the message.
void set_queue_full(PyObject *type, const QueueFull &error) {
  py::object instance = py::reinterpret_borrow<py::object>(type)(text_of(error));
  instance.attr("needed_bytes") = error.needed_bytes();
  instance.attr("free_bytes") = error.free_bytes();
  instance.attr("capacity_bytes") = error.capacity_bytes();
  if (const auto *deadlock = dynamic_cast<const Deadlock *>(&error)) {
    py::tuple pids(deadlock->blocked_pids().size());
    for (std::size_t index = 0; index < deadlock->blocked_pids().size(); ++index) {
      pids[index] = deadlock->blocked_pids()[index];
    }
    instance.attr("blocked_pids") = pids;
  }
  PyErr_SetObject(type, instance.ptr());
}

// THE TABLE. Most derived types first: a catch clause also takes subclasses.
//   Deadlock                               -> pysyncq.Deadlock   (a QueueFull, a MemoryError)
//   QueueFull                              -> pysyncq.QueueFull  (a MemoryError)
//   InvalidArgument, NotAQueue (and its
//   LayoutMismatch), NotOpen               -> ValueError
//   TooManyMembers                         -> RuntimeError
//   SyscallError(errno)                    -> OSError(errno, message): Python picks the
//                                             subclass (FileNotFoundError, FileExistsError,
//                                             PermissionError, ...); so ForeignOwner (EPERM)
//                                             is a PermissionError and LockHeld
//                                             (ETIMEDOUT) a TimeoutError
//   Interrupted                            -> the Python error the signal handler raised
//   any other pysyncq::Error               -> RuntimeError
// Takes the exception_ptr by value: pybind11's translator type is void(std::exception_ptr).
void translate(std::exception_ptr pending) {
  try {
    std::rethrow_exception(std::move(pending));
  } catch (const Deadlock &error) {
    set_queue_full(deadlock_type, error);
  } catch (const QueueFull &error) {
    set_queue_full(queue_full_type, error);
  } catch (const InvalidArgument &error) {
    set_error(PyExc_ValueError, error);
  } catch (const NotAQueue &error) {
    set_error(PyExc_ValueError, error);
  } catch (const NotOpen &error) {
    set_error(PyExc_ValueError, error);
  } catch (const TooManyMembers &error) {
    set_error(PyExc_RuntimeError, error);
  } catch (const SyscallError &error) {
    py::tuple arguments = py::make_tuple(error.error_number(), text_of(error));
    PyErr_SetObject(PyExc_OSError, arguments.ptr());
  } catch (const Interrupted &error) {
    if (PyErr_Occurred() == nullptr) {
      set_error(PyExc_InterruptedError, error);
    }
  } catch (const Error &error) {
    set_error(PyExc_RuntimeError, error);
  }
  // Anything else propagates to pybind11's own translators.
}

// Throws one C++ exception of the kind named, so a test can check each row of the table
// without having to provoke every failure for real (EACCES as root, say).
void raise_for_test(const std::string &kind, int error_number) {
  if (kind == "QueueFull") {
    throw QueueFull("test: append needs 96 bytes; 8 of 64 free", 96, 8, 64);
  }
  if (kind == "Deadlock") {
    throw Deadlock("test: deadlock", 96, 8, 64, {11, 22});
  }
  if (kind == "InvalidArgument") {
    throw InvalidArgument("test: invalid argument");
  }
  if (kind == "NotAQueue") {
    throw NotAQueue("test: not a queue");
  }
  if (kind == "LayoutMismatch") {
    throw LayoutMismatch("test: layout mismatch");
  }
  if (kind == "NotOpen") {
    throw NotOpen("test: not open");
  }
  if (kind == "TooManyMembers") {
    throw TooManyMembers("test: too many members");
  }
  if (kind == "SyscallError") {
    throw SyscallError("test: shm_open: " + std::string(std::strerror(error_number)), error_number);
  }
  if (kind == "Interrupted") {
    throw Interrupted("test: interrupted");
  }
  if (kind == "Error") {
    throw Error("test: error");
  }
  throw py::value_error("unknown error kind '" + kind + "'");
}

} // namespace

void register_errors(py::module_ &module) {
  queue_full_type = PyErr_NewExceptionWithDoc(
      "pysyncq.QueueFull",
      "The message does not fit in the queue (now, before the timer expired, or ever).\n\n"
      "A MemoryError, as the guide promises. Attributes: needed_bytes, free_bytes,\n"
      "capacity_bytes.",
      PyExc_MemoryError, nullptr);
  if (queue_full_type == nullptr) {
    throw py::error_already_set();
  }
  module.add_object("QueueFull", py::reinterpret_borrow<py::object>(queue_full_type));
  deadlock_type = PyErr_NewExceptionWithDoc(
      "pysyncq.Deadlock",
      "A blocking append can never succeed: every process holding back the oldest unread\n"
      "message is itself blocked appending. A QueueFull (so a MemoryError); blocked_pids\n"
      "names them.",
      queue_full_type, nullptr);
  if (deadlock_type == nullptr) {
    throw py::error_already_set();
  }
  module.add_object("Deadlock", py::reinterpret_borrow<py::object>(deadlock_type));
  py::register_exception_translator(&translate);
  module.def("_raise_for_test", &raise_for_test, py::arg("kind"), py::arg("errno") = 0,
             "Throws the C++ exception named `kind` (tests of the error table only).");
}

void set_python_error_from_current() noexcept {
  try {
    throw;
  } catch (py::error_already_set &error) {
    error.restore();
  } catch (const py::builtin_exception &error) {
    error.set_error();
  } catch (const Error &) {
    try {
      translate(std::current_exception());
    } catch (...) {
      PyErr_SetString(PyExc_RuntimeError, "pysyncq: failed to translate a C++ error");
    }
  } catch (const std::bad_alloc &) {
    PyErr_NoMemory();
  } catch (const std::exception &error) {
    PyErr_SetString(PyExc_RuntimeError, error.what());
  } catch (...) {
    PyErr_SetString(PyExc_SystemError, "pysyncq: unknown C++ exception");
  }
}

void raise_pending_interrupt() {
  if (PyErr_Occurred() == nullptr) {
    PyErr_SetString(PyExc_InterruptedError, "pysyncq: wait interrupted");
  }
  throw py::error_already_set();
}

} // namespace pysyncq::python
