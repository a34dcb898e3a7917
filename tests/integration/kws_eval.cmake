# `deepedge eval` of openWakeWord's "alexa" model (fixture cache) on espeak-ng speech
# and pocketsphinx-testdata recordings built by deepedge-make-kws-set (skips without
# the models, espeak-ng or the recordings). Included from tests/integration/CMakeLists.txt.
add_executable(kws_eval_test ${CMAKE_CURRENT_LIST_DIR}/kws_eval_test.cc)
target_link_libraries(kws_eval_test PRIVATE deepedge_core nlohmann_json::nlohmann_json
  GTest::gtest GTest::gtest_main)
target_include_directories(kws_eval_test PRIVATE ${PROJECT_SOURCE_DIR}/tests)
target_compile_definitions(kws_eval_test PRIVATE DEEPEDGE_BINARY="$<TARGET_FILE:deepedge>"
  DEEPEDGE_MAKE_KWS_SET="$<TARGET_FILE:deepedge-make-kws-set>"
  DEEPEDGE_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
deepedge_target_defaults(kws_eval_test)
add_dependencies(kws_eval_test deepedge deepedge-make-kws-set)
gtest_discover_tests(kws_eval_test PROPERTIES LABELS integration TIMEOUT 900 DISCOVERY_TIMEOUT 60)
