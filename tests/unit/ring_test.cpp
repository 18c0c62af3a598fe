#include "core/record.hpp"
#include <gtest/gtest.h>
TEST(Ring, placeholder) { EXPECT_EQ(pysyncq::core::record_bytes(0, 0, 0), 16U); }
