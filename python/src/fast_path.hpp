// The one place where the binding relies on internals of CPython and pybind11, for the
// hot path: append and pop called straight from CPython's vectorcall (no pybind11
// dispatcher), the C++ object behind `self` found without a full cast, and the main
// thread test that decides whether a wait runs signal handlers. fast_path.cpp says, for
// each internal, why it is used and what would break; everything else in python/src
// uses public APIs only.
#pragma once

#include "queue.hpp"

#include <pybind11/pybind11.h>

namespace pysyncq::python {

/// Adds the fast `append` and `pop` methods to the bound type `type` (pysyncq._pysyncq.
/// Queue) and remembers the type for self_of. Called once, by bind_queue, with the GIL.
void install_fast_path(pybind11::handle type);

/// The QueueObject behind `self`. Throws TypeError for an object of another type, and
/// for an instance whose __init__ never ran (PySyncQ.__new__ alone). With the GIL.
QueueObject &self_of(PyObject *self);

/// Whether the calling thread is the one where CPython runs signal handlers (the main
/// thread of the main interpreter; after a fork, the thread that forked). With the GIL.
bool is_main_thread() noexcept;

} // namespace pysyncq::python
