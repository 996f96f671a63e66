# Integration: the real binary on a real file system.
add_test(NAME integration_run_spool
  COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/integration/run_spool.sh $<TARGET_FILE:fieldcam>)
set_tests_properties(integration_run_spool PROPERTIES LABELS "integration" TIMEOUT 120)
