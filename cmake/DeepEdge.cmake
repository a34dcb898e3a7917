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

# deepedge_set_pic_closure(TARGET): position-independent code for TARGET and every
# static library of ours it links, directly or not, so that they can go into a
# shared module.
function(deepedge_set_pic_closure target)
  set(pending ${target})
  set(seen "")
  while(pending)
    list(POP_FRONT pending t)
    if(NOT TARGET ${t} OR t IN_LIST seen)
      continue()
    endif()
    list(APPEND seen ${t})
    get_target_property(type ${t} TYPE)
    if(type STREQUAL "STATIC_LIBRARY" OR type STREQUAL "OBJECT_LIBRARY")
      set_property(TARGET ${t} PROPERTY POSITION_INDEPENDENT_CODE ON)
    endif()
    if(NOT type STREQUAL "INTERFACE_LIBRARY")
      get_target_property(deps ${t} LINK_LIBRARIES)
      foreach(d IN LISTS deps)
        if(d MATCHES "^deepedge_")
          list(APPEND pending ${d})
        endif()
      endforeach()
    endif()
  endwhile()
endfunction()

# deepedge_add_backend_module(NAME FACTORY FN OUTPUT_DIR DIR): backend NAME (the
# library deepedge_backend_NAME) as a loadable module DIR/deepedge-backend-NAME.so
# whose entry (include/deepedge/backend_module.h) calls FN. The module carries its
# own copy of the static libraries it needs; the command opens it on first use.
function(deepedge_add_backend_module name)
  cmake_parse_arguments(ARG "" "FACTORY;OUTPUT_DIR" "" ${ARGN})
  set(target deepedge-backend-${name})
  add_library(${target} MODULE ${PROJECT_SOURCE_DIR}/src/backends/module_entry.cc)
  target_link_libraries(${target} PRIVATE deepedge_backend_${name})
  target_compile_definitions(${target} PRIVATE DEEPEDGE_MODULE_FACTORY=${ARG_FACTORY})
  # Only the entry is exported: the module's copies of our libraries stay its own.
  set_target_properties(${target} PROPERTIES PREFIX "" LIBRARY_OUTPUT_DIRECTORY ${ARG_OUTPUT_DIR}
                                             CXX_VISIBILITY_PRESET hidden
                                             VISIBILITY_INLINES_HIDDEN ON)
  # --exclude-libs: the static libraries' symbols stay local to the module too.
  target_link_options(${target} PRIVATE -Wl,--no-undefined -Wl,--exclude-libs,ALL)
  deepedge_target_defaults(${target})
  deepedge_set_pic_closure(deepedge_backend_${name})
endfunction()
