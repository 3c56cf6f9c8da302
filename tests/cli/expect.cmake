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

if(_failures)
  message(FATAL_ERROR "expect.cmake: FAILED\n${_failures}")
endif()
