include(GoogleTest)

# Project-wide helpers: one function per kind of target, so that every library,
# backend and test gets the same warnings and sanitizer flags.

# -Wno-restrict: GCC 12 at -O2/-O3 reports false positives inside libstdc++'s
# std::string concatenation (GCC bug 105329); the warning says nothing about our code.
set(DEEPEDGE_WARNINGS -Wall -Wextra -Wpedantic -Werror -Wno-restrict
    -Wno-error=deprecated-declarations)
set(DEEPEDGE_SANITIZER_FLAGS -fsanitize=address,undefined -fno-omit-frame-pointer
    -fno-sanitize-recover=undefined)

function(deepedge_target_defaults target)
  target_compile_options(${target} PRIVATE ${DEEPEDGE_WARNINGS})
  if(DEEPEDGE_SANITIZE)
    target_compile_options(${target} PRIVATE ${DEEPEDGE_SANITIZER_FLAGS})
    target_link_options(${target} PRIVATE ${DEEPEDGE_SANITIZER_FLAGS})
  endif()
endfunction()

# deepedge_add_library(NAME SOURCES ... DEPS ...): a static library of ours.
function(deepedge_add_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(${name} STATIC ${ARG_SOURCES})
  target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR}/include
                                     PRIVATE ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(${name} PUBLIC ${ARG_DEPS} PRIVATE ${ARG_PRIVATE_DEPS})
  deepedge_target_defaults(${name})
endfunction()

# deepedge_add_backend(NAME SOURCES ... DEPS ...): one plug-in backend. Adding a
# backend is one folder and one line in src/backends/CMakeLists.txt.
function(deepedge_add_backend name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  deepedge_add_library(deepedge_backend_${name} SOURCES ${ARG_SOURCES}
                       DEPS deepedge_core PRIVATE_DEPS ${ARG_DEPS})
  set_property(GLOBAL APPEND PROPERTY DEEPEDGE_BACKENDS deepedge_backend_${name})
  string(TOUPPER ${name} upper)
  set_property(GLOBAL APPEND PROPERTY DEEPEDGE_BACKEND_DEFINES DEEPEDGE_HAVE_BACKEND_${upper}=1)
endfunction()

# deepedge_add_unit_test(NAME SOURCES ... DEPS ...): a GoogleTest binary run by CTest
# with the label "unit" (the sanitizer tree runs exactly these).
function(deepedge_add_unit_test name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} GTest::gtest GTest::gtest_main GTest::gmock)
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR}/src ${PROJECT_SOURCE_DIR}/tests)
  target_compile_definitions(${name} PRIVATE
      DEEPEDGE_TEST_DATA_DIR="${PROJECT_SOURCE_DIR}/tests/data")
  deepedge_target_defaults(${name})
  gtest_discover_tests(${name} PROPERTIES LABELS unit DISCOVERY_TIMEOUT 60)
endfunction()
