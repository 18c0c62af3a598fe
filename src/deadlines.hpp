// Deadline arithmetic that both backends and the shm sleepers share.
#pragma once

#include "pysyncq/deadline.hpp"

namespace pysyncq {

/// The deadline that comes first: a nap or a spin never outlasts the caller's deadline.
inline Deadline earlier(Deadline a, Deadline b) noexcept { return a.when() <= b.when() ? a : b; }

} // namespace pysyncq
