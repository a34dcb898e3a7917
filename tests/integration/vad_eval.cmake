# `deepedge eval` of the real Silero VAD v5 (fixture cache) on pocketsphinx-testdata's
# recordings padded by deepedge-make-vad-set (skips without either).
# Included from tests/integration/CMakeLists.txt.
add_executable(vad_eval_test ${CMAKE_CURRENT_LIST_DIR}/vad_eval_test.cc)
target_link_libraries(vad_eval_test PRIVATE deepedge_core nlohmann_json::nlohmann_json
  GTest::gtest GTest::gtest_main)
target_include_directories(vad_eval_test PRIVATE ${PROJECT_SOURCE_DIR}/tests)
target_compile_definitions(vad_eval_test PRIVATE DEEPEDGE_BINARY="$<TARGET_FILE:deepedge>"
  DEEPEDGE_MAKE_VAD_SET="$<TARGET_FILE:deepedge-make-vad-set>"
  DEEPEDGE_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
deepedge_target_defaults(vad_eval_test)
add_dependencies(vad_eval_test deepedge deepedge-make-vad-set)
gtest_discover_tests(vad_eval_test PROPERTIES LABELS integration TIMEOUT 600 DISCOVERY_TIMEOUT 60)
