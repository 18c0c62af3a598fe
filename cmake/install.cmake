# What `cmake --install build --prefix DIR` puts where, so that C++ programs outside this
# tree can use the library (issue 16, item 8):
#
#   find_package(pysyncq 0.1 REQUIRED)            # CMAKE_PREFIX_PATH=DIR
#   target_link_libraries(app PRIVATE pysyncq::pysyncq)
#
#   g++ -std=c++20 app.cpp $(pkg-config --cflags --libs pysyncq)   # PKG_CONFIG_PATH=DIR/lib/pkgconfig
#
# Installed: the headers, libpysyncq.a, pysyncqTargets.cmake, pysyncqConfig.cmake,
# pysyncqConfigVersion.cmake and pysyncq.pc (and syncq, from cli/). Both the CMake package
# and the .pc file are relocatable: they find the prefix from where they lie. Tested by
# tests/consumer/check_cxx.sh (ctest label "consumer").
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(PYSYNCQ_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/pysyncq)

install(TARGETS pysyncq EXPORT pysyncqTargets ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(DIRECTORY include/pysyncq DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT pysyncqTargets NAMESPACE pysyncq:: DESTINATION ${PYSYNCQ_CMAKE_DIR})

# The library is static: a user's program links what it depends on (Threads, and libnats
# when this build has the NATS backend), so the package file finds those again.
set(PYSYNCQ_WITH_NATS OFF)
if(NATS_FOUND)
  set(PYSYNCQ_WITH_NATS ON)
endif()
configure_package_config_file(cmake/pysyncqConfig.cmake.in
  ${PROJECT_BINARY_DIR}/pysyncqConfig.cmake INSTALL_DESTINATION ${PYSYNCQ_CMAKE_DIR})
# 0.y: a new minor version may change the API and the segment layout (kLayoutVersion), so
# only the same major.minor is compatible.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/pysyncqConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/pysyncqConfig.cmake
              ${PROJECT_BINARY_DIR}/pysyncqConfigVersion.cmake
        DESTINATION ${PYSYNCQ_CMAKE_DIR})

# pkg-config. The prefix is found from the .pc file's own folder (${pcfiledir}), so
# `cmake --install --prefix` anywhere gives a working file.
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}")
  set(PYSYNCQ_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
else()
  file(RELATIVE_PATH up /prefix/${CMAKE_INSTALL_LIBDIR}/pkgconfig /prefix)
  set(PYSYNCQ_PC_PREFIX "\${pcfiledir}/${up}")
endif()
set(PYSYNCQ_PC_REQUIRES)
if(NATS_FOUND)
  set(PYSYNCQ_PC_REQUIRES libnats)
endif()
configure_file(cmake/pysyncq.pc.in ${PROJECT_BINARY_DIR}/pysyncq.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/pysyncq.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
