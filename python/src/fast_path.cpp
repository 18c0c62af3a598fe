// append and pop bypass pybind11's dispatcher: for a 16-byte message it cost more than
// the queue itself (argument casting, overload resolution, a full cast of self). They
// are METH_FASTCALL | METH_KEYWORDS methods that CPython's vectorcall calls directly.
//
// The internals this file uses, each in one function below (before replacing one, time
// a loop of append+pop in one process, and `make bench`'s Python pingpong):
//   1. pybind11::detail::instance and value_and_holder (self_of): the C++ value pointer
//      of an instance, as pybind11 2.10 (Debian 12) lays an instance out. A later
//      pybind11 may rename them (the build fails) or change their meaning (self_of would
//      return a wrong pointer: run tests/python after any pybind11 upgrade).
//      py::cast<QueueObject &> is the public way; it goes through pybind11's type
//      registry on every call, which is what this path avoids.
//   2. _PyOS_IsMainThread (is_main_thread): CPython's own answer to "do signal handlers
//      run in this thread", which follows the main thread across fork. It is private
//      (intrcheck.h, underscore): a CPython release may drop it, and the link fails.
//      The public alternative, comparing PyThread_get_thread_ident() with an identity
//      cached at import and renewed in an at-fork hook, re-implements CPython's rule.
//   3. The vectorcall argument parser (parse_arguments): CPython has no public parser
//      for vectorcall arguments (_PyArg_ParseStackAndKeywords is private); this one
//      handles positional-then-keyword matching and raises the TypeErrors that Python
//      functions raise. The parameter lists are append_parameters and pop_parameters.
#include "fast_path.hpp"

#include "errors.hpp"

#include <array>
#include <cstddef>
#include <string>

namespace py = pybind11;

namespace pysyncq::python {

namespace {

// The bound type, set once by install_fast_path (the module keeps it alive).
PyTypeObject *queue_type = nullptr;

// A method's parameters in positional order, with their names interned once, so that a
// keyword given as an interned literal (the usual case) matches by pointer.
template <std::size_t Count> struct Parameters {
  const char *function;
  std::array<const char *, Count> names;
  std::array<PyObject *, Count> interned{};

  void intern() {
    for (std::size_t index = 0; index < Count; ++index) {
      interned[index] = PyUnicode_InternFromString(names[index]);
      if (interned[index] == nullptr) {
        throw py::error_already_set();
      }
    }
  }
};

// append(msgtype='', msg='', block=False, timer=0.5) and pop(block=False, timer=0.5,
// decode=True): the guide's signatures, as the docstrings below state them.
enum AppendParameter : std::size_t { kMsgtype, kMsg, kAppendBlock, kAppendTimer, kAppendCount };
enum PopParameter : std::size_t { kPopBlock, kPopTimer, kDecode, kPopCount };
Parameters<kAppendCount> append_parameters{"append", {"msgtype", "msg", "block", "timer"}};
Parameters<kPopCount> pop_parameters{"pop", {"block", "timer", "decode"}};

// The defaults that are objects of our own (Py_False and Py_True are CPython's).
PyObject *empty_str = nullptr;   // msgtype='' and msg=''
PyObject *half_second = nullptr; // timer=0.5

// Matches vectorcall arguments to `parameters` (positional first, then keywords); the
// entries of `values` not given keep their defaults. Raises TypeError as Python does.
template <std::size_t Count>
void parse_arguments(const Parameters<Count> &parameters, PyObject *const *args, Py_ssize_t nargs,
                     PyObject *kwnames, std::array<PyObject *, Count> &values) {
  constexpr auto count = static_cast<Py_ssize_t>(Count);
  if (nargs > count) {
    throw py::type_error(std::string(parameters.function) + "() takes at most " +
                         std::to_string(count) + " arguments (" + std::to_string(nargs) +
                         " given)");
  }
  for (Py_ssize_t index = 0; index < nargs; ++index) {
    values[static_cast<std::size_t>(index)] = args[index];
  }
  const Py_ssize_t keywords = kwnames == nullptr ? 0 : PyTuple_GET_SIZE(kwnames);
  for (Py_ssize_t k = 0; k < keywords; ++k) {
    PyObject *key = PyTuple_GET_ITEM(kwnames, k);
    std::size_t match = Count;
    for (std::size_t index = 0; index < Count && match == Count; ++index) {
      if (key == parameters.interned[index] ||
          PyUnicode_CompareWithASCIIString(key, parameters.names[index]) == 0) {
        match = index;
      }
    }
    if (match == Count) {
      throw py::type_error(std::string(parameters.function) +
                           "() got an unexpected keyword argument '" +
                           py::str(key).cast<std::string>() + "'");
    }
    if (static_cast<Py_ssize_t>(match) < nargs) {
      throw py::type_error(std::string(parameters.function) +
                           "() got multiple values for argument '" + parameters.names[match] + "'");
    }
    values[match] = args[nargs + k];
  }
}

PyObject *fast_append(PyObject *self, PyObject *const *args, Py_ssize_t nargs,
                      PyObject *kwnames) noexcept {
  try {
    std::array<PyObject *, kAppendCount> values{};
    values[kMsgtype] = empty_str;
    values[kMsg] = empty_str;
    values[kAppendBlock] = Py_False;
    values[kAppendTimer] = half_second;
    parse_arguments(append_parameters, args, nargs, kwnames, values);
    self_of(self).append(values[kMsgtype], values[kMsg], values[kAppendBlock],
                         values[kAppendTimer]);
    Py_RETURN_NONE;
  } catch (...) {
    set_python_error_from_current();
    return nullptr;
  }
}

PyObject *fast_pop(PyObject *self, PyObject *const *args, Py_ssize_t nargs,
                   PyObject *kwnames) noexcept {
  try {
    std::array<PyObject *, kPopCount> values{};
    values[kPopBlock] = Py_False;
    values[kPopTimer] = half_second;
    values[kDecode] = Py_True;
    parse_arguments(pop_parameters, args, nargs, kwnames, values);
    return self_of(self).pop(values[kPopBlock], values[kPopTimer], values[kDecode]).release().ptr();
  } catch (...) {
    set_python_error_from_current();
    return nullptr;
  }
}

// METH_FASTCALL | METH_KEYWORDS functions have the _PyCFunctionFastWithKeywords shape;
// PyMethodDef stores every kind as a PyCFunction (CPython casts it back by the flags).
template <class Function> PyCFunction as_method(Function *function) {
  return reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(function));
}

// The first lines give inspect.signature() the guide's signatures.
std::array<PyMethodDef, 2> fast_methods{{
    {"append", as_method(&fast_append), METH_FASTCALL | METH_KEYWORDS,
     "append($self, /, msgtype='', msg='', block=False, timer=0.5)\n--\n\n"
     "Appends a message at the tail. str is written as UTF-8, bytes as they are, anything "
     "else as str(obj).\n\nWhen the queue is too full: raises MemoryError "
     "(pysyncq.QueueFull, with the sizes) unless block is true; then waits for space, for "
     "ever if timer is None, else at most timer seconds, and raises MemoryError when that "
     "expires. A message larger than the whole queue raises at once; so does a wait that "
     "can never end (pysyncq.Deadlock). Releases the GIL while waiting; Ctrl-C interrupts "
     "the wait (KeyboardInterrupt) and leaves the queue as it was."},
    {"pop", as_method(&fast_pop), METH_FASTCALL | METH_KEYWORDS,
     "pop($self, /, block=False, timer=0.5, decode=True)\n--\n\n"
     "Returns the next unread message that is not screened, as (sender, type, body): str, "
     "or bytes with decode=False.\n\nReturns None when there is none; with block true it "
     "first waits, for ever if timer is None, else at most timer seconds. Screened "
     "messages are skipped and count as read. A body that is not UTF-8 raises "
     "UnicodeDecodeError (the message is consumed). Releases the GIL while waiting; "
     "Ctrl-C interrupts the wait (KeyboardInterrupt) and leaves the queue as it was."},
}};

} // namespace

QueueObject &self_of(PyObject *self) {
  if (queue_type == nullptr || PyObject_TypeCheck(self, queue_type) == 0) {
    throw py::type_error("expected a pysyncq queue object");
  }
  // Internal 1: pybind11's instance layout (see the top of this file). The type check
  // above makes the cast valid: the instance is of our one bound class or a subclass.
  auto *instance = reinterpret_cast<py::detail::instance *>(self);
  const py::detail::value_and_holder slot = instance->get_value_and_holder();
  if (slot.value_ptr() == nullptr || !slot.holder_constructed()) {
    throw py::type_error("this pysyncq queue object was never initialised "
                         "(its __init__ did not run)");
  }
  return *static_cast<QueueObject *>(slot.value_ptr());
}

bool is_main_thread() noexcept {
  // Internal 2: CPython's private main-thread test (see the top of this file).
  return _PyOS_IsMainThread() != 0;
}

void install_fast_path(py::handle type) {
  queue_type = reinterpret_cast<PyTypeObject *>(type.ptr());
  empty_str = PyUnicode_InternFromString("");
  half_second = PyFloat_FromDouble(0.5);
  if (empty_str == nullptr || half_second == nullptr) {
    throw py::error_already_set();
  }
  append_parameters.intern();
  pop_parameters.intern();
  for (PyMethodDef &method : fast_methods) {
    py::object descriptor =
        py::reinterpret_steal<py::object>(PyDescr_NewMethod(queue_type, &method));
    if (!descriptor) {
      throw py::error_already_set();
    }
    type.attr(method.ml_name) = descriptor;
  }
}

} // namespace pysyncq::python
