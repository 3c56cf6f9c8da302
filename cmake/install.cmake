# Install rules for the library: the shared and static libraries, the public header, a CMake
# package (find_package(clattn) → clattn::clattn, clattn::clattn_static) and clattn.pc.
# The command-line tool installs itself (src/cli). Included last from the top-level
# CMakeLists.txt, after GNUInstallDirs and the targets exist.

include(CMakePackageConfigHelpers)

# (tests/install/CMakeLists.txt, configured before this file, assumes the same directory.)
set(CLATTN_INSTALL_CMAKEDIR "${CMAKE_INSTALL_LIBDIR}/cmake/clattn")

# The installed name of the imported static target is clattn::clattn_static; its file is
# libclattn.a (OUTPUT_NAME), next to libclattn.so.
install(TARGETS clattn clattn_static
  EXPORT clattnTargets
  LIBRARY DESTINATION "${CMAKE_INSTALL_LIBDIR}"
    COMPONENT Runtime NAMELINK_COMPONENT Development
  ARCHIVE DESTINATION "${CMAKE_INSTALL_LIBDIR}" COMPONENT Development
  RUNTIME DESTINATION "${CMAKE_INSTALL_BINDIR}" COMPONENT Runtime)
# (The targets' include directory is exported through their $<INSTALL_INTERFACE:...>.)
install(FILES "${PROJECT_SOURCE_DIR}/include/clattn.h"
  DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}" COMPONENT Development)

install(EXPORT clattnTargets
  NAMESPACE clattn::
  FILE clattnTargets.cmake
  DESTINATION "${CLATTN_INSTALL_CMAKEDIR}"
  COMPONENT Development)

configure_package_config_file(
  "${PROJECT_SOURCE_DIR}/cmake/clattnConfig.cmake.in"
  "${PROJECT_BINARY_DIR}/clattnConfig.cmake"
  INSTALL_DESTINATION "${CLATTN_INSTALL_CMAKEDIR}"
  NO_SET_AND_CHECK_MACRO
  NO_CHECK_REQUIRED_COMPONENTS_MACRO)
# 0.x: a minor release may break the API, so only the same MAJOR.MINOR is compatible.
write_basic_package_version_file(
  "${PROJECT_BINARY_DIR}/clattnConfigVersion.cmake"
  VERSION "${PROJECT_VERSION}"
  COMPATIBILITY SameMinorVersion)
install(FILES
  "${PROJECT_BINARY_DIR}/clattnConfig.cmake"
  "${PROJECT_BINARY_DIR}/clattnConfigVersion.cmake"
  DESTINATION "${CLATTN_INSTALL_CMAKEDIR}"
  COMPONENT Development)

# pkg-config. Paths are relative to the .pc file's own directory (${pcfiledir}) so that the
# file stays right when the prefix is chosen at install time (cmake --install --prefix) or
# the tree is moved; absolute GNUInstallDirs values are used as given.
set(CLATTN_PC_LIBDIR_REL "${CMAKE_INSTALL_LIBDIR}/pkgconfig")
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}")
  set(CLATTN_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
  set(CLATTN_PC_LIBDIR "${CMAKE_INSTALL_LIBDIR}")
else()
  # lib → "..", lib/x86_64-linux-gnu → "../.." (from <libdir>/pkgconfig back to the prefix).
  file(RELATIVE_PATH _clattn_pc_up "/prefix/${CLATTN_PC_LIBDIR_REL}" "/prefix")
  string(REGEX REPLACE "/$" "" _clattn_pc_up "${_clattn_pc_up}")
  set(CLATTN_PC_PREFIX "\${pcfiledir}/${_clattn_pc_up}")
  set(CLATTN_PC_LIBDIR "\${prefix}/${CMAKE_INSTALL_LIBDIR}")
endif()
if(IS_ABSOLUTE "${CMAKE_INSTALL_INCLUDEDIR}")
  set(CLATTN_PC_INCLUDEDIR "${CMAKE_INSTALL_INCLUDEDIR}")
else()
  set(CLATTN_PC_INCLUDEDIR "\${prefix}/${CMAKE_INSTALL_INCLUDEDIR}")
endif()
configure_file("${PROJECT_SOURCE_DIR}/cmake/clattn.pc.in" "${PROJECT_BINARY_DIR}/clattn.pc"
               @ONLY)
install(FILES "${PROJECT_BINARY_DIR}/clattn.pc"
  DESTINATION "${CLATTN_PC_LIBDIR_REL}" COMPONENT Development)
