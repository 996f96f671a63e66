# Integration: the real binary on a real file system.
add_test(NAME integration_run_spool
  COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/integration/run_spool.sh $<TARGET_FILE:fieldcam>)
set_tests_properties(integration_run_spool PROPERTIES LABELS "integration" TIMEOUT 120)

# Online mode end to end: the real binary against the reference endpoint over
# HTTPS (faults, outage, kill -9, SIGTERM, wrong CA, token file, Gemini).
# Under valgrind too in the ordinary build (not with the sanitizers).
add_test(NAME integration_online
  COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/integration/run_online.sh $<TARGET_FILE:fieldcam>)
set(_fc_valgrind 1)
if(FIELDCAM_SANITIZE)
  set(_fc_valgrind 0)
endif()
set_tests_properties(integration_online PROPERTIES LABELS "integration;net" TIMEOUT 600
  SKIP_RETURN_CODE 77 ENVIRONMENT "FIELDCAM_VALGRIND=${_fc_valgrind}")

# Batch mode end to end: three line formats, kill -9 at every step of a
# batch (FIELDCAM_CRASH_AT), cancelled and failed jobs, an outage, flush.
add_test(NAME integration_batch
  COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/integration/run_batch.sh $<TARGET_FILE:fieldcam>)
set_tests_properties(integration_batch PROPERTIES LABELS "integration;net" TIMEOUT 600 SKIP_RETURN_CODE 77)

# systemd's notify protocol on a real datagram socket: READY, STATUS,
# STOPPING, watchdog pings that stop while capture is blocked (a FIFO as the
# camera) and come back when it moves, a SIGTERM that does not hang on it.
add_test(NAME integration_notify
  COMMAND python3 ${CMAKE_CURRENT_SOURCE_DIR}/integration/run_notify.py $<TARGET_FILE:fieldcam>)
set_tests_properties(integration_notify PROPERTIES LABELS "integration" TIMEOUT 120)
