# Real models with trained weights against ONNX Runtime (docs/fixtures.md). Included from
# tests/integration/CMakeLists.txt. The tests skip themselves when the fixture cache or
# tools/ort's onnxruntime-node is missing (scripts/fetch_fixtures.sh provides both); select them
# with `ctest -L real_models`, leave them out with `ctest -LE real_models`.
add_executable(real_models_test ${CMAKE_CURRENT_LIST_DIR}/real_models_test.cc)
target_link_libraries(real_models_test PRIVATE deepedge_core GTest::gtest GTest::gtest_main)
target_include_directories(real_models_test PRIVATE ${PROJECT_SOURCE_DIR}/tests)
target_compile_definitions(real_models_test PRIVATE DEEPEDGE_BINARY="$<TARGET_FILE:deepedge>"
                                                    DEEPEDGE_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
deepedge_target_defaults(real_models_test)
add_dependencies(real_models_test deepedge)
# One label only: gtest_discover_tests splits a list-valued LABELS property into separate words.
# Slowest test here: the OCR detector at 640x640 (a few seconds per backend).
gtest_discover_tests(real_models_test NO_PRETTY_VALUES
                     PROPERTIES LABELS real_models TIMEOUT 600 DISCOVERY_TIMEOUT 60)
