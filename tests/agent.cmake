# agent/: the base library and the configuration loader.
fc_unit_test(test_base SOURCES unit/test_base.c LIBS fieldcam_base)
fc_unit_test(test_config SOURCES unit/test_config.c LIBS fieldcam_agent fc::cjson)
# test_config also runs the real binary for exit statuses and messages
add_dependencies(test_config fieldcam)
set_property(TEST test_config APPEND PROPERTY ENVIRONMENT
  "FIELDCAM_BIN=$<TARGET_FILE:fieldcam>" "FIELDCAM_SOURCE_DIR=${PROJECT_SOURCE_DIR}")
fc_fuzz_target(fuzz_config SOURCES fuzz/fuzz_config.c LIBS fieldcam_agent
  CORPUS ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/corpus/config)

# Static analysis of the project's own code.
find_program(CPPCHECK cppcheck)
if(CPPCHECK)
  add_test(NAME lint_cppcheck COMMAND ${CPPCHECK} --quiet --error-exitcode=1
    --enable=warning,portability --std=c11 --inline-suppr
    -D__GNUC__ -D_GNU_SOURCE -I ${PROJECT_SOURCE_DIR}/agent
    ${PROJECT_SOURCE_DIR}/agent ${PROJECT_SOURCE_DIR}/drivers
    ${PROJECT_SOURCE_DIR}/storage ${PROJECT_SOURCE_DIR}/net)
  set_tests_properties(lint_cppcheck PROPERTIES LABELS "lint")
endif()
