# Which implementation of src/platform/ this build compiles (issue 18).
#
#   linux     futex, robust pthread mutex, /proc, posix_fallocate, eventfd (the default
#             on Linux)
#
# Every implementation provides the same headers of src/platform/; only the .cpp files
# differ. Sets PYSYNCQ_PLATFORM_SOURCES (relative to the project root).

set(PYSYNCQ_PLATFORM "linux" CACHE STRING "Platform implementation: linux")
set_property(CACHE PYSYNCQ_PLATFORM PROPERTY STRINGS linux)

# Whatever the OS: names, errors, liveness from a start time.
set(_pysyncq_platform_common
  src/platform/syscall.cpp
  src/platform/shm_name.cpp
  src/platform/liveness.cpp)

# POSIX systems (Linux, macOS): shm_open + mmap, fork, kill.
set(_pysyncq_platform_posix
  src/platform/posix/shm.cpp
  src/platform/posix/system.cpp
  src/platform/posix/fork_generation.cpp
  src/platform/posix/crash_point.cpp)

if(PYSYNCQ_PLATFORM STREQUAL "linux")
  set(PYSYNCQ_PLATFORM_SOURCES
    ${_pysyncq_platform_common}
    ${_pysyncq_platform_posix}
    src/platform/linux/shm.cpp
    src/platform/linux/futex.cpp
    src/platform/linux/robust_mutex.cpp
    src/platform/linux/liveness.cpp
    src/platform/linux/notify_fd.cpp)
else()
  message(FATAL_ERROR "PYSYNCQ_PLATFORM=${PYSYNCQ_PLATFORM}: unknown; use linux")
endif()
message(STATUS "pysyncq: platform ${PYSYNCQ_PLATFORM}")
