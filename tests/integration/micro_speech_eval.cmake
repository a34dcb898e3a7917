# `deepedge eval` of TFLite Micro's micro_speech (../shared/models/tflite-micro) through its
# audio front end on espeak-ng words built by deepedge-make-kws-set --micro-speech and the
# four clips shipped with the model (skips without the models or espeak-ng). Included
# from tests/integration/CMakeLists.txt.
add_executable(micro_speech_eval_test ${CMAKE_CURRENT_LIST_DIR}/micro_speech_eval_test.cc)
target_link_libraries(micro_speech_eval_test PRIVATE deepedge_core nlohmann_json::nlohmann_json
  GTest::gtest GTest::gtest_main)
target_include_directories(micro_speech_eval_test PRIVATE ${PROJECT_SOURCE_DIR}/tests)
target_compile_definitions(micro_speech_eval_test PRIVATE DEEPEDGE_BINARY="$<TARGET_FILE:deepedge>"
  DEEPEDGE_MAKE_KWS_SET="$<TARGET_FILE:deepedge-make-kws-set>"
  DEEPEDGE_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
deepedge_target_defaults(micro_speech_eval_test)
add_dependencies(micro_speech_eval_test deepedge deepedge-make-kws-set)
gtest_discover_tests(micro_speech_eval_test PROPERTIES LABELS integration TIMEOUT 300
  DISCOVERY_TIMEOUT 60)
