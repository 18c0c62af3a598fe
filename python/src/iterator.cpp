// MessageIterator (iterator.hpp): a CPython type made with PyType_FromSpec, public C API
// only; the queue behind it is found by self_of (fast_path.cpp).
//
// It behaves as the generator
//     while (message := q.pop(block, timer, decode)) is not None: yield message
// did: each step is one pop of the queue with the arguments given at creation (checked
// at the first step), a pop that reads ahead (kReadAhead), so what it yields, in which
// order and under which screens is exactly what those pops return; a step that finds no
// message, or raises, ends it for good; it keeps the queue alive. Unlike a generator it
// has no send/throw/close, and two threads may step it at once (each step is a pop,
// which the handle serialises).
#include "iterator.hpp"

#include "errors.hpp"
#include "fast_path.hpp"

namespace py = pybind11;

namespace pysyncq::python {

namespace {

// How many messages a step's pop may read ahead into the handle's backlog
// (Queue::try_pop_visit; small ones, 4 KiB at most): the space of up to 65 messages is
// freed with one cursor store, so an appender blocked for space is woken once for them,
// not once per pop (docs/design.md, "Read-ahead").
constexpr std::size_t kReadAhead = 64;

struct MessageIterator {
  PyObject ob_base; // PyObject_HEAD, spelled out
  // Strong references, all set by iterator_new (cleared only by tp_clear for the cycle
  // collector; a step finds `queue` null then and ends).
  PyObject *queue;
  PyObject *block;
  PyObject *timer;
  PyObject *decode;
  bool ended; // a step found no message or raised: no more steps, as a generator
};

MessageIterator &as_iterator(PyObject *self) noexcept {
  return *reinterpret_cast<MessageIterator *>(self);
}

// Py_NewRef, which Python 3.9 lacks.
PyObject *new_reference(PyObject *object) noexcept {
  Py_INCREF(object);
  return object;
}

// MessageIterator(queue, block, timer, decode), as PySyncQ.__call__ makes it.
PyObject *iterator_new(PyTypeObject *type, PyObject *args, PyObject *kwargs) noexcept {
  static const char *const kNames[] = {"queue", "block", "timer", "decode", nullptr};
  PyObject *queue = nullptr;
  PyObject *block = nullptr;
  PyObject *timer = nullptr;
  PyObject *decode = nullptr;
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-vararg): CPython's argument parser
  if (PyArg_ParseTupleAndKeywords(args, kwargs, "OOOO:MessageIterator", const_cast<char **>(kNames),
                                  &queue, &block, &timer, &decode) == 0) {
    return nullptr;
  }
  try {
    (void)self_of(queue); // a TypeError now rather than at the first step
  } catch (...) {
    set_python_error_from_current();
    return nullptr;
  }
  PyObject *self = type->tp_alloc(type, 0);
  if (self == nullptr) {
    return nullptr;
  }
  MessageIterator &iterator = as_iterator(self);
  iterator.queue = new_reference(queue);
  iterator.block = new_reference(block);
  iterator.timer = new_reference(timer);
  iterator.decode = new_reference(decode);
  iterator.ended = false;
  return self;
}

PyObject *iterator_next(PyObject *self) noexcept {
  MessageIterator &iterator = as_iterator(self);
  if (iterator.ended || iterator.queue == nullptr) {
    return nullptr; // StopIteration
  }
  // Our own reference for the step: a blocking pop drops the GIL, and another thread may
  // meanwhile step this iterator to its end.
  const py::object queue = py::reinterpret_borrow<py::object>(iterator.queue);
  try {
    py::object message =
        self_of(queue.ptr()).pop(iterator.block, iterator.timer, iterator.decode, kReadAhead);
    if (message.is_none()) {
      iterator.ended = true;
      return nullptr;
    }
    return message.release().ptr();
  } catch (...) {
    iterator.ended = true; // as a generator that raised
    set_python_error_from_current();
    return nullptr;
  }
}

int iterator_traverse(PyObject *self, visitproc visit, void *arg) noexcept {
  MessageIterator &iterator = as_iterator(self);
  Py_VISIT(iterator.queue);
  Py_VISIT(iterator.block);
  Py_VISIT(iterator.timer);
  Py_VISIT(iterator.decode);
  Py_VISIT(Py_TYPE(self)); // a heap type: its instances keep it alive
  return 0;
}

int iterator_clear(PyObject *self) noexcept {
  MessageIterator &iterator = as_iterator(self);
  Py_CLEAR(iterator.queue);
  Py_CLEAR(iterator.block);
  Py_CLEAR(iterator.timer);
  Py_CLEAR(iterator.decode);
  return 0;
}

void iterator_dealloc(PyObject *self) noexcept {
  PyTypeObject *type = Py_TYPE(self);
  PyObject_GC_UnTrack(self);
  (void)iterator_clear(self);
  type->tp_free(self);
  Py_DECREF(type);
}

// PyType_Slot stores every slot function as a void pointer; CPython casts it back.
template <class Function> void *slot(Function *function) noexcept {
  return reinterpret_cast<void *>(function);
}

PyType_Slot iterator_slots[] = {
    {Py_tp_doc, const_cast<char *>("Pops messages of a queue, as PySyncQ.__call__ returns it.")},
    {Py_tp_new, slot(&iterator_new)},
    {Py_tp_dealloc, slot(&iterator_dealloc)},
    {Py_tp_traverse, slot(&iterator_traverse)},
    {Py_tp_clear, slot(&iterator_clear)},
    {Py_tp_iter, slot(&PyObject_SelfIter)},
    {Py_tp_iternext, slot(&iterator_next)},
    {0, nullptr},
};

PyType_Spec iterator_spec{"pysyncq._pysyncq.MessageIterator", sizeof(MessageIterator), 0,
                          Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC, iterator_slots};

} // namespace

void bind_iterator(py::module_ &module) {
  auto type = py::reinterpret_steal<py::object>(PyType_FromSpec(&iterator_spec));
  if (!type) {
    throw py::error_already_set();
  }
  module.attr("MessageIterator") = type;
}

} // namespace pysyncq::python
