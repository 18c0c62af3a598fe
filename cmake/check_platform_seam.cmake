# ctest build.platform_seam: src/platform/ is the only code of the shared-memory queue
# that knows the OS (issue 18). No source under src/ outside src/platform/ includes an OS
# header; src/nats/ (the NATS backend, Linux and macOS only) is the one exception.
# Run as: cmake -DROOT=<project root> -P check_platform_seam.cmake
get_filename_component(ROOT "${ROOT}" ABSOLUTE) # a relative ROOT would match nothing below
file(GLOB_RECURSE sources RELATIVE ${ROOT} ${ROOT}/src/*.cpp ${ROOT}/src/*.hpp)
set(os_header "#include <(sys/|linux/|mach/|os/|unistd\\.h|pthread\\.h|fcntl\\.h|dirent\\.h|windows\\.h|semaphore\\.h|signal\\.h|csignal)")
set(offenders)
foreach(source ${sources})
  if(source MATCHES "^src/(platform|nats)/")
    continue()
  endif()
  file(STRINGS ${ROOT}/${source} lines REGEX "${os_header}")
  if(lines)
    list(APPEND offenders "${source}: ${lines}")
  endif()
endforeach()
if(offenders)
  list(JOIN offenders "\n  " text)
  message(FATAL_ERROR "OS headers outside src/platform/ (move the call into the platform):\n  ${text}")
endif()
message(STATUS "platform seam: no OS header in src/ outside src/platform/ and src/nats/")
