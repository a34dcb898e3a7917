# `deepedge eval` of the real PP-OCRv4 recogniser on text lines rendered by
# deepedge-render-text (skips without the fixture cache: scripts/fetch_fixtures.sh).
# Included from tests/integration/CMakeLists.txt.
add_executable(ocr_eval_test ${CMAKE_CURRENT_LIST_DIR}/ocr_eval_test.cc)
target_link_libraries(ocr_eval_test PRIVATE deepedge_core nlohmann_json::nlohmann_json
  GTest::gtest GTest::gtest_main)
target_include_directories(ocr_eval_test PRIVATE ${PROJECT_SOURCE_DIR}/tests)
target_compile_definitions(ocr_eval_test PRIVATE DEEPEDGE_BINARY="$<TARGET_FILE:deepedge>"
  DEEPEDGE_RENDER_TEXT="$<TARGET_FILE:deepedge-render-text>"
  DEEPEDGE_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
deepedge_target_defaults(ocr_eval_test)
add_dependencies(ocr_eval_test deepedge deepedge-render-text)
gtest_discover_tests(ocr_eval_test PROPERTIES LABELS integration TIMEOUT 600 DISCOVERY_TIMEOUT 60)
