# The HTML report in headless Chromium (tests/integration/report_chromium_test.cc). Included from
# tests/integration/CMakeLists.txt. Skips itself when `chromium` or the Vega assets (fetched by
# scripts/fetch_fixtures.sh) are absent. Artifacts (the pages, Chromium's logs and
# report-screenshot.png) are left in the build directory's root.
add_executable(report_chromium_test ${CMAKE_CURRENT_LIST_DIR}/report_chromium_test.cc)
target_link_libraries(report_chromium_test PRIVATE deepedge_core deepedge_report deepedge_store
                                                   GTest::gtest GTest::gtest_main)
target_compile_definitions(report_chromium_test PRIVATE DEEPEDGE_BINARY="$<TARGET_FILE:deepedge>"
                                                        DEEPEDGE_ARTIFACT_DIR="${CMAKE_BINARY_DIR}")
deepedge_target_defaults(report_chromium_test)
add_dependencies(report_chromium_test deepedge)
gtest_discover_tests(report_chromium_test PROPERTIES LABELS integration TIMEOUT 600
                     DISCOVERY_TIMEOUT 60)
