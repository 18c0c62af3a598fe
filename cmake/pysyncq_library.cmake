# The library, built once (issue 16, item 4).
#
# Every source of PYSYNCQ_SOURCES is compiled once, into the OBJECT library
# pysyncq_objects, except the few that contain crash points (PYSYNCQ_CRASH_POINT_SOURCES):
# their code differs per variant, so each variant compiles them again with its own
# definitions. pysyncq_library_variant() makes a variant:
#
#   pysyncq_library_variant(pysyncq)                                     # what users link
#   pysyncq_library_variant(pysyncq_crashable DEFINITIONS PYSYNCQ_CRASH_POINTS)  # tests
#   pysyncq_library_variant(pysyncq_fuzzed COMPILE_OPTIONS -fsanitize=... EXCLUDE_FROM_ALL)
#
# A variant with COMPILE_OPTIONS (instrumentation: fuzzing, coverage) must reach every
# file, so it compiles all sources again, in an object library of its own; it still takes
# its sources, include directories, definitions and dependencies from here, so variants
# cannot drift apart. Include directories, definitions and dependencies live in
# _pysyncq_library_usage() only.
#
# Callers set, before including this file: PYSYNCQ_SOURCES, PYSYNCQ_CRASH_POINT_SOURCES
# (both relative to the project root) and NATS_FOUND.

include(${CMAKE_CURRENT_LIST_DIR}/check_crash_points.cmake)
pysyncq_check_crash_points(${PROJECT_SOURCE_DIR} "${PYSYNCQ_SOURCES}"
                           "${PYSYNCQ_CRASH_POINT_SOURCES}")

list(TRANSFORM PYSYNCQ_SOURCES PREPEND ${PROJECT_SOURCE_DIR}/
     OUTPUT_VARIABLE _pysyncq_all_sources)
list(TRANSFORM PYSYNCQ_CRASH_POINT_SOURCES PREPEND ${PROJECT_SOURCE_DIR}/
     OUTPUT_VARIABLE _pysyncq_crash_point_sources)
set(_pysyncq_shared_sources ${_pysyncq_all_sources})
list(REMOVE_ITEM _pysyncq_shared_sources ${_pysyncq_crash_point_sources})

# What every object of the library is compiled with, and what its users get.
function(_pysyncq_library_usage target)
  target_include_directories(${target}
    PUBLIC $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include> $<INSTALL_INTERFACE:include>
    PRIVATE ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(${target} PUBLIC Threads::Threads)
  # The public headers need C++20; users of the installed package get it from here.
  target_compile_features(${target} PUBLIC cxx_std_20)
  if(NATS_FOUND)
    target_compile_definitions(${target} PRIVATE PYSYNCQ_HAVE_NATS)
    target_link_libraries(${target} PUBLIC PkgConfig::NATS)
  endif()
endfunction()

add_library(pysyncq_objects OBJECT ${_pysyncq_shared_sources})
_pysyncq_library_usage(pysyncq_objects)

# pysyncq_library_variant(<name> [EXCLUDE_FROM_ALL] [DEFINITIONS d...] [COMPILE_OPTIONS o...])
# A static, position-independent library <name>: the shared objects plus the crash-point
# sources compiled with DEFINITIONS (private to the library). See the top of this file.
function(pysyncq_library_variant name)
  cmake_parse_arguments(PARSE_ARGV 1 arg "EXCLUDE_FROM_ALL" "" "DEFINITIONS;COMPILE_OPTIONS")
  set(exclude)
  if(arg_EXCLUDE_FROM_ALL)
    set(exclude EXCLUDE_FROM_ALL)
  endif()
  if(arg_COMPILE_OPTIONS)
    add_library(${name}_objects OBJECT ${exclude} ${_pysyncq_shared_sources})
    _pysyncq_library_usage(${name}_objects)
    target_compile_options(${name}_objects PRIVATE ${arg_COMPILE_OPTIONS})
    set(objects ${name}_objects)
  else()
    set(objects pysyncq_objects)
  endif()
  add_library(${name} STATIC ${exclude} $<TARGET_OBJECTS:${objects}>
              ${_pysyncq_crash_point_sources})
  _pysyncq_library_usage(${name})
  if(arg_DEFINITIONS)
    target_compile_definitions(${name} PRIVATE ${arg_DEFINITIONS})
  endif()
  if(arg_COMPILE_OPTIONS)
    target_compile_options(${name} PRIVATE ${arg_COMPILE_OPTIONS})
  endif()
endfunction()
