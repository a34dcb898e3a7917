# Real TFLite models from ../shared/models/tflite-micro and the MediaPipe fixtures (read
# in-process through the deepedge backend; the MediaPipe ones also against tools/tflite).
# Included from tests/integration/CMakeLists.txt; skipped when absent.
if(DEEPEDGE_WITH_OPENCV)
  find_package(OpenCV REQUIRED COMPONENTS core imgcodecs)
  add_executable(tflite_models_test ${CMAKE_CURRENT_LIST_DIR}/tflite_models_test.cc)
  target_link_libraries(tflite_models_test PRIVATE deepedge_backend_deepedge deepedge_tflite
                        opencv_core opencv_imgcodecs nlohmann_json::nlohmann_json GTest::gtest
                        GTest::gtest_main)
  target_include_directories(tflite_models_test PRIVATE ${PROJECT_SOURCE_DIR}/tests)
  target_include_directories(tflite_models_test SYSTEM PRIVATE ${OpenCV_INCLUDE_DIRS})
  # The schema's generated reader: quantization read from the file, not through DeepEdge.
  target_include_directories(tflite_models_test SYSTEM PRIVATE
                             ${PROJECT_BINARY_DIR}/src/formats/tflite/generated)
  add_dependencies(tflite_models_test deepedge_tflite)
  # flatc and the importer's schema: the selfie-segmentation test rewrites a model for the
  # TFLite reference (MediaPipe's custom operator as the builtin TRANSPOSE_CONV).
  target_compile_definitions(tflite_models_test PRIVATE DEEPEDGE_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
    FLATC_EXECUTABLE="${FLATC_EXECUTABLE}"
    TFLITE_SCHEMA="${PROJECT_SOURCE_DIR}/src/formats/tflite/tflite_schema.fbs")
  deepedge_target_defaults(tflite_models_test)
  gtest_discover_tests(tflite_models_test NO_PRETTY_VALUES
                       PROPERTIES LABELS integration TIMEOUT 600 DISCOVERY_TIMEOUT 60)
endif()
# IF / WHILE models built by the test (tests/unit/formats/tflite_test_models.h) against the
# TFLite reference (tools/tflite); skipped without node or tools/tflite/node_modules.
add_executable(tflite_control_flow_test ${CMAKE_CURRENT_LIST_DIR}/tflite_control_flow_test.cc)
target_link_libraries(tflite_control_flow_test PRIVATE deepedge_backend_deepedge deepedge_tflite
                      GTest::gtest GTest::gtest_main)
target_include_directories(tflite_control_flow_test PRIVATE ${PROJECT_SOURCE_DIR}/tests)
target_include_directories(tflite_control_flow_test SYSTEM PRIVATE
                           ${PROJECT_BINARY_DIR}/src/formats/tflite/generated)
add_dependencies(tflite_control_flow_test deepedge_tflite)
target_compile_definitions(tflite_control_flow_test PRIVATE
                           DEEPEDGE_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
deepedge_target_defaults(tflite_control_flow_test)
gtest_discover_tests(tflite_control_flow_test PROPERTIES LABELS integration TIMEOUT 300
                     DISCOVERY_TIMEOUT 60)
