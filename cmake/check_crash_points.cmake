# Fails when the list of sources with crash points is wrong (issue 16, item 4).
#
# Crash points compile to nothing unless PYSYNCQ_CRASH_POINTS is defined, and only the
# sources in PYSYNCQ_CRASH_POINT_SOURCES are compiled again with it for the crash tests.
# A crash point in any other file would silently never fire, so its test would pass
# without testing anything. A header may not hold one either: each source that includes
# it would get it with its own definitions.
#
# Included by cmake/pysyncq_library.cmake at configure time, and run as a test
# (build.crash_point_sources) so that an edit after configuring is caught too:
#   cmake -DROOT=<project root> "-DSOURCES=a.cpp;b.cpp" "-DCRASH_POINT_SOURCES=a.cpp"
#         -P cmake/check_crash_points.cmake

function(pysyncq_check_crash_points root sources crash_point_sources)
  # A use is the macro followed by a string literal, as in PYSYNCQ_CRASH_POINT("x.y"), not
  # after a comment's slashes (crash_point.hpp names one in its comment).
  set(use_pattern "^[^/]*PYSYNCQ_CRASH_POINT\\(\"")
  set(errors)
  foreach(source IN LISTS sources)
    file(STRINGS ${root}/${source} uses REGEX "${use_pattern}")
    list(FIND crash_point_sources ${source} listed)
    if(uses AND listed EQUAL -1)
      list(APPEND errors "${source} has crash points but is not in PYSYNCQ_CRASH_POINT_SOURCES")
    elseif(NOT uses AND NOT listed EQUAL -1)
      list(APPEND errors "${source} is in PYSYNCQ_CRASH_POINT_SOURCES but has no crash point")
    endif()
  endforeach()
  foreach(source IN LISTS crash_point_sources)
    list(FIND sources ${source} known)
    if(known EQUAL -1)
      list(APPEND errors "${source} is in PYSYNCQ_CRASH_POINT_SOURCES but not in PYSYNCQ_SOURCES")
    endif()
  endforeach()
  file(GLOB_RECURSE headers RELATIVE ${root} ${root}/src/*.hpp ${root}/include/*.hpp)
  foreach(header IN LISTS headers)
    file(STRINGS ${root}/${header} uses REGEX "${use_pattern}")
    if(uses)
      list(APPEND errors "${header} is a header with crash points; move them to a source")
    endif()
  endforeach()
  if(errors)
    list(JOIN errors "\n  " text)
    message(FATAL_ERROR "crash points (cmake/check_crash_points.cmake):\n  ${text}")
  endif()
endfunction()

if(CMAKE_SCRIPT_MODE_FILE STREQUAL CMAKE_CURRENT_LIST_FILE)
  pysyncq_check_crash_points(${ROOT} "${SOURCES}" "${CRASH_POINT_SOURCES}")
  message(STATUS "crash points: all in ${CRASH_POINT_SOURCES}")
endif()
