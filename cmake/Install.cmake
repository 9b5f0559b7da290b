# `cmake --install build --prefix P` puts tessel in P for projects of their
# own: the libraries, every header (the generated .inc files included), the
# `tessel` and `tessel-opt` tools, and a CMake package, so that
#
#   find_package(tessel REQUIRED)
#   target_link_libraries(app PRIVATE tessel::tessel)
#
# is all a user writes (examples/ is such a project, built against an
# install in CI). tessel::tessel carries MLIR/LLVM (found again through the
# MLIR this build used), fmt and nlohmann_json.
include(CMakePackageConfigHelpers)

set(TESSEL_LIBRARIES tessel_kernels tessel_autotune tessel_runtime
    tessel_lowering tessel_dsl tessel_dialect)
install(TARGETS ${TESSEL_LIBRARIES} EXPORT tesselTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
if(NOT TESSEL_PORTABLE)
  install(TARGETS tessel tessel-opt RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
endif()
# The C API: libtessel.so and tessel.h, for bindings (not part of the CMake
# package's tessel::tessel).
if(TARGET tessel_capi)
  install(TARGETS tessel_capi LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
  install(FILES ${PROJECT_SOURCE_DIR}/capi/tessel.h
          DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/capi)
endif()

foreach(dir dialect dsl lowering runtime autotune kernels)
  install(DIRECTORY ${PROJECT_SOURCE_DIR}/${dir}/
          DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/${dir}
          FILES_MATCHING PATTERN "*.h")
  install(DIRECTORY ${PROJECT_BINARY_DIR}/${dir}/
          DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/${dir}
          FILES_MATCHING PATTERN "*.h.inc" PATTERN "CMakeFiles" EXCLUDE)
endforeach()

set(TESSEL_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/tessel)
install(EXPORT tesselTargets NAMESPACE tessel:: DESTINATION ${TESSEL_CMAKE_DIR})
configure_package_config_file(
  ${PROJECT_SOURCE_DIR}/cmake/tesselConfig.cmake.in
  ${PROJECT_BINARY_DIR}/tesselConfig.cmake
  INSTALL_DESTINATION ${TESSEL_CMAKE_DIR})
write_basic_package_version_file(
  ${PROJECT_BINARY_DIR}/tesselConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/tesselConfig.cmake
              ${PROJECT_BINARY_DIR}/tesselConfigVersion.cmake
        DESTINATION ${TESSEL_CMAKE_DIR})
