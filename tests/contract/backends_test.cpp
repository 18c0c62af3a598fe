// Runs every TEST_P(Contract, ...) once per backend: "Backends/Contract.<test>/<label>".
#include "contract.hpp"

#include <ostream>

namespace pysyncq::testing {

// gtest prints a parameter in failure messages: the label, not the bytes of the struct.
void PrintTo(const BackendFactory &backend, std::ostream *out) { *out << backend.label; }

INSTANTIATE_TEST_SUITE_P(Backends, Contract, ::testing::ValuesIn(contract_backends()),
                         [](const ::testing::TestParamInfo<BackendFactory> &info) {
                           return info.param.label;
                         });

} // namespace pysyncq::testing
