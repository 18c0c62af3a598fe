// Named crash points for the crash tests. In a build with PYSYNCQ_CRASH_POINTS defined,
// PYSYNCQ_CRASH_POINT("append.after_copy") kills the process with SIGKILL when the
// environment variable PYSYNCQ_CRASH_AT equals that name; elsewhere it compiles to
// nothing. The names are listed in docs/design.md.
#pragma once

namespace pysyncq::platform {
void crash_point_reached(const char *name) noexcept;
} // namespace pysyncq::platform

#ifdef PYSYNCQ_CRASH_POINTS
#define PYSYNCQ_CRASH_POINT(name) ::pysyncq::platform::crash_point_reached(name)
#else
#define PYSYNCQ_CRASH_POINT(name) ((void)0)
#endif
