// pysyncq._pysyncq: the extension module behind the pysyncq package.
#include "errors.hpp"
#include "iterator.hpp"
#include "queue.hpp"

#include <pybind11/pybind11.h>

PYBIND11_MODULE(_pysyncq, module) {
  module.doc() = "The C++ core of pysyncq, bound with pybind11. Use the pysyncq package.";
  pysyncq::python::register_errors(module);
  pysyncq::python::bind_queue(module);
  pysyncq::python::bind_iterator(module);
}
