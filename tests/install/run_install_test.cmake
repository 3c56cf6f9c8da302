# cmake -P driver of test_install_consumer (see CMakeLists.txt here for the -D inputs).
#
#  1. cmake --install <BINARY_DIR> --prefix <WORK_DIR>/prefix, and check the installed files;
#  2. configure + build consumer/ against that prefix (find_package(clattn)), with the main
#     build's C compiler and generator, and run its shared and static executables;
#  3. compile consumer.c with `cc $(pkg-config --cflags --libs clattn)` (PKG_CONFIG_PATH into
#     the prefix) and run it with LD_LIBRARY_PATH on the prefix's library directory.
# Every step that fails stops the script with FATAL_ERROR, which fails the test.

cmake_minimum_required(VERSION 3.16)

foreach(_var BINARY_DIR WORK_DIR CONSUMER_SOURCE_DIR LIBDIR INCLUDEDIR CMAKE_PACKAGE_DIR
             C_COMPILER GENERATOR VERSION SOVERSION)
  if("${${_var}}" STREQUAL "")
    message(FATAL_ERROR "run_install_test.cmake: -D${_var}=... is required")
  endif()
endforeach()
foreach(_dir LIBDIR INCLUDEDIR CMAKE_PACKAGE_DIR)
  if(IS_ABSOLUTE "${${_dir}}")
    message(FATAL_ERROR "${_dir} is absolute (${${_dir}}): the build cannot be installed "
                        "into a temporary prefix, so this test cannot run")
  endif()
endforeach()

set(_prefix "${WORK_DIR}/prefix")
set(_build "${WORK_DIR}/consumer-build")
set(_libdir "${_prefix}/${LIBDIR}")

# run(<step name> COMMAND ...): run a command, echoing it; stop on non-zero exit.
function(run step)
  message(STATUS "---- ${step}")
  execute_process(${ARGN} COMMAND_ECHO STDOUT RESULT_VARIABLE _rc)
  if(NOT _rc STREQUAL "0")
    message(FATAL_ERROR "FAILED (${_rc}): ${step}")
  endif()
endfunction()

# Sanitized builds (CLATTN_SANITIZE) install sanitized libraries, which only link and load
# into programs built with the same sanitizers.
set(_san_flags "")
if(SANITIZE)
  set(_san_flags -fsanitize=${SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=all)
endif()
string(REPLACE ";" " " _san_flags_str "${_san_flags}")

file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")

# 1. Install into a fresh prefix.
set(_config_args "")
if(CONFIG)
  set(_config_args --config "${CONFIG}")
endif()
run("install the build tree into ${_prefix}"
  COMMAND "${CMAKE_COMMAND}" --install "${BINARY_DIR}" --prefix "${_prefix}" ${_config_args})

set(_missing "")
foreach(_f
    "${INCLUDEDIR}/clattn.h"
    "${LIBDIR}/libclattn.so"
    "${LIBDIR}/libclattn.so.${SOVERSION}"
    "${LIBDIR}/libclattn.so.${VERSION}"
    "${LIBDIR}/libclattn.a"
    "${LIBDIR}/pkgconfig/clattn.pc"
    "${CMAKE_PACKAGE_DIR}/clattnConfig.cmake"
    "${CMAKE_PACKAGE_DIR}/clattnConfigVersion.cmake"
    "${CMAKE_PACKAGE_DIR}/clattnTargets.cmake")
  if(NOT EXISTS "${_prefix}/${_f}")
    list(APPEND _missing "${_f}")
  endif()
endforeach()
foreach(_link "libclattn.so" "libclattn.so.${SOVERSION}")
  if(NOT IS_SYMLINK "${_libdir}/${_link}")
    list(APPEND _missing "${LIBDIR}/${_link} (as a symbolic link)")
  endif()
endforeach()
if(_missing)
  string(REPLACE ";" "\n  " _missing "${_missing}")
  message(FATAL_ERROR "not installed under ${_prefix}:\n  ${_missing}")
endif()
message(STATUS "installed files are all there")

# 2. The CMake package.
set(_gen_args -G "${GENERATOR}")
if(MAKE_PROGRAM)
  list(APPEND _gen_args "-DCMAKE_MAKE_PROGRAM=${MAKE_PROGRAM}")
endif()
set(_build_type "${CONFIG}")
if(NOT _build_type)
  set(_build_type Release)
endif()
run("configure the consumer project (find_package(clattn))"
  COMMAND "${CMAKE_COMMAND}" -S "${CONSUMER_SOURCE_DIR}" -B "${_build}" ${_gen_args}
          "-DCMAKE_C_COMPILER=${C_COMPILER}"
          "-DCMAKE_BUILD_TYPE=${_build_type}"
          "-DCMAKE_PREFIX_PATH=${_prefix}"
          "-DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF"
          "-DCMAKE_C_FLAGS=${_san_flags_str}"
          "-DCMAKE_EXE_LINKER_FLAGS=${_san_flags_str}"
          "-DCLATTN_EXPECTED_VERSION=${VERSION}"
          "-DCLATTN_EXPECTED_PREFIX=${_prefix}")
run("build the consumer project"
  COMMAND "${CMAKE_COMMAND}" --build "${_build}" ${_config_args})

# Each executable must link the library it asked for.
if(READELF)
  foreach(_exe consumer_shared consumer_static)
    execute_process(COMMAND "${READELF}" -d "${_build}/bin/${_exe}"
                    OUTPUT_VARIABLE _dyn RESULT_VARIABLE _rc)
    if(NOT _rc STREQUAL "0")
      message(FATAL_ERROR "readelf -d ${_build}/bin/${_exe} failed")
    endif()
    string(FIND "${_dyn}" "[libclattn.so.${SOVERSION}]" _at)
    if(_exe STREQUAL "consumer_shared" AND _at EQUAL -1)
      message(FATAL_ERROR "consumer_shared does not link libclattn.so.${SOVERSION}:\n${_dyn}")
    elseif(_exe STREQUAL "consumer_static" AND NOT _at EQUAL -1)
      message(FATAL_ERROR "consumer_static links libclattn.so.${SOVERSION}, not libclattn.a")
    endif()
  endforeach()
endif()

run("run consumer_shared (clattn::clattn)" COMMAND "${_build}/bin/consumer_shared")
run("run consumer_static (clattn::clattn_static)" COMMAND "${_build}/bin/consumer_static")

# 3. pkg-config.
if(NOT PKG_CONFIG)
  message(FATAL_ERROR "pkg-config was not found when the build was configured "
                      "(install it, e.g. apt-get install pkg-config, and reconfigure)")
endif()
set(_pc_env "PKG_CONFIG_PATH=${_libdir}/pkgconfig")
if(DEFINED ENV{PKG_CONFIG_PATH} AND NOT "$ENV{PKG_CONFIG_PATH}" STREQUAL "")
  string(APPEND _pc_env ":$ENV{PKG_CONFIG_PATH}")
endif()
message(STATUS "---- pkg-config --modversion / --cflags --libs clattn (${_pc_env})")
execute_process(COMMAND "${CMAKE_COMMAND}" -E env "${_pc_env}" "${PKG_CONFIG}" --modversion clattn
                OUTPUT_VARIABLE _pc_version OUTPUT_STRIP_TRAILING_WHITESPACE
                RESULT_VARIABLE _rc)
if(NOT _rc STREQUAL "0" OR NOT _pc_version STREQUAL VERSION)
  message(FATAL_ERROR "pkg-config --modversion clattn gave '${_pc_version}' (exit ${_rc}), "
                      "expected ${VERSION}")
endif()
execute_process(COMMAND "${CMAKE_COMMAND}" -E env "${_pc_env}"
                        "${PKG_CONFIG}" --cflags --libs clattn
                OUTPUT_VARIABLE _pc_flags OUTPUT_STRIP_TRAILING_WHITESPACE
                RESULT_VARIABLE _rc)
if(NOT _rc STREQUAL "0")
  message(FATAL_ERROR "pkg-config --cflags --libs clattn failed (exit ${_rc})")
endif()
message(STATUS "pkg-config: ${_pc_flags}")
separate_arguments(_pc_flags UNIX_COMMAND "${_pc_flags}")
# The .pc file is relocatable (${pcfiledir}); its -I must still lead into this prefix.
get_filename_component(_want_inc "${_prefix}/${INCLUDEDIR}" REALPATH)
set(_inc_ok FALSE)
foreach(_flag IN LISTS _pc_flags)
  if(_flag MATCHES "^-I(.+)$")
    get_filename_component(_inc "${CMAKE_MATCH_1}" REALPATH)
    if(_inc STREQUAL _want_inc)
      set(_inc_ok TRUE)
    endif()
  endif()
endforeach()
if(NOT _inc_ok)
  message(FATAL_ERROR "pkg-config's flags have no -I for ${_prefix}/${INCLUDEDIR}")
endif()
run("compile consumer.c with pkg-config's flags"
  COMMAND "${C_COMPILER}" -Wall -Wextra -Werror ${_san_flags}
          "${CONSUMER_SOURCE_DIR}/consumer.c" -o "${WORK_DIR}/consumer_pkgconfig" ${_pc_flags})
set(_ld "LD_LIBRARY_PATH=${_libdir}")
if(DEFINED ENV{LD_LIBRARY_PATH} AND NOT "$ENV{LD_LIBRARY_PATH}" STREQUAL "")
  string(APPEND _ld ":$ENV{LD_LIBRARY_PATH}")
endif()
run("run consumer_pkgconfig (${_ld})"
  COMMAND "${CMAKE_COMMAND}" -E env "${_ld}" "${WORK_DIR}/consumer_pkgconfig")

message(STATUS "install test passed")
