# Runs one command and checks its exit status, output and files; any mismatch fails the test
# with the command's full output, so a failure explains itself.
#
#   cmake [-D<VAR>=<value>...] -P expect.cmake -- <program> [args...]
#
#   EXPECT_RC         exit status the command must return (required)
#   STDOUT_REGEX      regex stdout must match            STDOUT_NOT_REGEX  ... must not match
#   STDERR_REGEX      regex stderr must match            STDERR_NOT_REGEX  ... must not match
#   FRESH_DIR         directory removed before the run (a cold cache, an empty export dir)
#   EXPECT_GLOB       glob that must match at least one file after the run
#   NO_FILE           comma-separated files removed before the run that must still not exist
#                     after it (a failed command writes nothing)
#   COMPARE           comma-separated pairs ACTUAL,EXPECTED of .npy files: each ACTUAL is
#                     removed before the run and compared after it by COMPARE_TOOL
#                     (npy_compare) within RTOL and ATOL
#
# CTest's PASS_REGULAR_EXPRESSION ignores the exit status and WILL_FAIL accepts any failure,
# crashes included; this script checks both, exactly.
cmake_minimum_required(VERSION 3.16)

# The command is everything after "--".
set(_command "")
set(_seen_separator FALSE)
math(EXPR _last "${CMAKE_ARGC} - 1")
foreach(_i RANGE ${_last})
  if(_seen_separator)
    list(APPEND _command "${CMAKE_ARGV${_i}}")
  elseif("${CMAKE_ARGV${_i}}" STREQUAL "--")
    set(_seen_separator TRUE)
  endif()
endforeach()
if(NOT _command)
  message(FATAL_ERROR "expect.cmake: no command after '--'")
endif()
if(NOT DEFINED EXPECT_RC OR EXPECT_RC STREQUAL "")
  message(FATAL_ERROR "expect.cmake: EXPECT_RC is required")
endif()

if(FRESH_DIR)
  file(REMOVE_RECURSE "${FRESH_DIR}")
endif()
# Lists arrive comma-separated: a ';' would split the argument on CTest's command line.
string(REPLACE "," ";" _no_files "${NO_FILE}")
string(REPLACE "," ";" _compare "${COMPARE}")
set(_actuals "")
set(_i 0)
foreach(_path IN LISTS _compare)
  math(EXPR _odd "${_i} % 2")
  if(_odd EQUAL 0)
    list(APPEND _actuals "${_path}")
  endif()
  math(EXPR _i "${_i} + 1")
endforeach()
foreach(_path IN LISTS _no_files _actuals)
  file(REMOVE "${_path}")
endforeach()

execute_process(COMMAND ${_command}
                RESULT_VARIABLE _rc
                OUTPUT_VARIABLE _out
                ERROR_VARIABLE _err)

# Echo everything so that --output-on-failure shows what the command said.
string(REPLACE ";" " " _shown "${_command}")
message("command: ${_shown}\nexit status: ${_rc}\n--- stdout ---\n${_out}--- stderr ---\n${_err}--------------")

set(_failures "")
if(NOT "${_rc}" STREQUAL "${EXPECT_RC}")
  string(APPEND _failures "  exit status ${_rc}, expected ${EXPECT_RC}\n")
endif()
foreach(_stream out err)
  string(TOUPPER "STD${_stream}" _name)
  if(DEFINED ${_name}_REGEX AND NOT "${${_name}_REGEX}" STREQUAL ""
     AND NOT "${_${_stream}}" MATCHES "${${_name}_REGEX}")
    string(APPEND _failures "  ${_name} does not match: ${${_name}_REGEX}\n")
  endif()
  if(DEFINED ${_name}_NOT_REGEX AND NOT "${${_name}_NOT_REGEX}" STREQUAL ""
     AND "${_${_stream}}" MATCHES "${${_name}_NOT_REGEX}")
    string(APPEND _failures "  ${_name} matches what it must not: ${${_name}_NOT_REGEX}\n")
  endif()
endforeach()
if(EXPECT_GLOB)
  file(GLOB _files "${EXPECT_GLOB}")
  if(NOT _files)
    string(APPEND _failures "  no file matches ${EXPECT_GLOB}\n")
  endif()
endif()

foreach(_path IN LISTS _no_files)
  if(EXISTS "${_path}")
    string(APPEND _failures "  ${_path} exists, but the command must not write it\n")
  endif()
endforeach()
list(LENGTH _compare _count)
if(_count GREATER 0 AND NOT _failures)
  math(EXPR _last_pair "${_count} - 1")
  foreach(_i RANGE 0 ${_last_pair} 2)
    math(EXPR _j "${_i} + 1")
    list(GET _compare ${_i} _actual)
    list(GET _compare ${_j} _expected)
    execute_process(COMMAND "${COMPARE_TOOL}" "${_actual}" "${_expected}" "${RTOL}" "${ATOL}"
                    RESULT_VARIABLE _compare_rc
                    OUTPUT_VARIABLE _compare_out
                    ERROR_VARIABLE _compare_out)
    message("compare ${_actual} with ${_expected}: ${_compare_out}")
    if(NOT _compare_rc EQUAL 0)
      string(APPEND _failures "  ${_actual} differs from ${_expected}: ${_compare_out}\n")
    endif()
  endforeach()
endif()

if(_failures)
  message(FATAL_ERROR "expect.cmake: FAILED\n${_failures}")
endif()
