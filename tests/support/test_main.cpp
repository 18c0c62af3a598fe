// main() of the C++ test programs where children are spawned, not forked (Windows): a
// program started as a child runs the body it names and exits; otherwise the tests run.
#include "support/processes.hpp"

#include <gtest/gtest.h>

int main(int argc, char **argv) {
  if (const auto status = pysyncq::testing::run_child_if_asked(argc, argv)) {
    return *status;
  }
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
