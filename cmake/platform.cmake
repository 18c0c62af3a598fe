# Which implementation of src/platform/ this build compiles (issue 18).
#
#   linux     futex, robust pthread mutex, /proc, posix_fallocate, eventfd (the default
#             on Linux)
#   portable  the macOS algorithm, built and tested on Linux (make test-portable): the
#             owner-word lock, ftruncate once, names of at most 30 bytes, a pipe
#             notifier; futex stands in for macOS's wait-on-address and /proc for sysctl
#   darwin    the same algorithm with the macOS calls (darwin/: os_sync_wait_on_address
#             or __ulock_wait, sysctl, no listing); the default on Apple. Not yet built
#             or run on a Mac.
#   windows   named file mappings, a named kernel mutex (WAIT_ABANDONED), named events
#             for waits, GetProcessTimes (windows/); the default on Windows. Built with
#             mingw-w64 and tested under Wine (make test-windows).
#
# Every implementation provides the same headers of src/platform/; only the .cpp files
# differ. Sets PYSYNCQ_PLATFORM_SOURCES (relative to the project root).

if(APPLE)
  set(_pysyncq_default_platform darwin)
elseif(WIN32)
  set(_pysyncq_default_platform windows)
else()
  set(_pysyncq_default_platform linux)
endif()
set(PYSYNCQ_PLATFORM "${_pysyncq_default_platform}" CACHE STRING
    "Platform implementation: linux, portable (the macOS algorithm on Linux), darwin or windows")
set_property(CACHE PYSYNCQ_PLATFORM PROPERTY STRINGS linux portable darwin windows)

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
    src/platform/linux/shm_list.cpp
    src/platform/linux/futex.cpp
    src/platform/linux/robust_mutex.cpp
    src/platform/linux/liveness.cpp
    src/platform/linux/notify_fd.cpp)
elseif(PYSYNCQ_PLATFORM STREQUAL "portable" OR PYSYNCQ_PLATFORM STREQUAL "darwin")
  # The macOS algorithm: what macOS lacks (robust mutex, posix_fallocate, long names,
  # eventfd) is replaced the same way on both.
  set(PYSYNCQ_PLATFORM_SOURCES
    ${_pysyncq_platform_common}
    ${_pysyncq_platform_posix}
    src/platform/portable/shm.cpp
    src/platform/portable/owner_lock.cpp
    src/platform/posix/notify_fd.cpp)
  if(PYSYNCQ_PLATFORM STREQUAL "portable")
    # Linux stand-ins for the calls that only macOS has.
    list(APPEND PYSYNCQ_PLATFORM_SOURCES
      src/platform/linux/futex.cpp
      src/platform/linux/liveness.cpp
      src/platform/linux/shm_list.cpp)
  else()
    list(APPEND PYSYNCQ_PLATFORM_SOURCES
      src/platform/darwin/wait_on_address.cpp
      src/platform/darwin/liveness.cpp
      src/platform/darwin/shm_list.cpp)
  endif()
elseif(PYSYNCQ_PLATFORM STREQUAL "windows")
  # No POSIX at all: every part of the seam has its own file.
  set(PYSYNCQ_PLATFORM_SOURCES
    ${_pysyncq_platform_common}
    src/platform/windows/win_error.cpp
    src/platform/windows/mappings.cpp
    src/platform/windows/shm.cpp
    src/platform/windows/robust_mutex.cpp
    src/platform/windows/futex.cpp
    src/platform/windows/liveness.cpp
    src/platform/windows/notify_fd.cpp
    src/platform/windows/system.cpp
    src/platform/windows/crash_point.cpp)
else()
  message(FATAL_ERROR "PYSYNCQ_PLATFORM=${PYSYNCQ_PLATFORM}: unknown; use linux, portable, "
                      "darwin or windows")
endif()
message(STATUS "pysyncq: platform ${PYSYNCQ_PLATFORM}")
