// How pysyncq's C++ exceptions become Python exceptions: the one table lives in
// errors.cpp. Everything here runs with the GIL held.
#pragma once

#include <pybind11/pybind11.h>

namespace pysyncq::python {

/// Creates pysyncq.QueueFull (a MemoryError) and pysyncq.Deadlock (a QueueFull) in
/// `module` and registers the translator for every pysyncq::Error.
void register_errors(pybind11::module_ &module);

/// Sets the Python error for the C++ exception being handled (call inside a catch
/// block): pysyncq errors through the table, pybind11's own, bad_alloc, the rest.
/// For functions that bypass pybind11's dispatcher (the fast append and pop).
void set_python_error_from_current() noexcept;

/// Throws py::error_already_set for the Python error that an interrupted wait left
/// pending (a KeyboardInterrupt, say); sets InterruptedError first if none is pending.
[[noreturn]] void raise_pending_interrupt();

} // namespace pysyncq::python
