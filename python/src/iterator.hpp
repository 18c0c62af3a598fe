// pysyncq._pysyncq.MessageIterator: what PySyncQ.__call__ (`for m in q`, `q(block, timer)`)
// returns. One pop of the queue per step, as the generator it replaces did, without the
// generator's frame and argument parsing around each pop.
#pragma once

#include <pybind11/pybind11.h>

namespace pysyncq::python {

/// Adds the MessageIterator type to `module`. Called once, with the GIL.
void bind_iterator(pybind11::module_ &module);

} // namespace pysyncq::python
