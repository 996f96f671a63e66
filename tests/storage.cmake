# storage/: the spool, results log, state files.
fc_unit_test(test_storage SOURCES unit/test_storage.c LIBS fieldcam_storage)

# SIGKILL at random moments; every reported durable record must survive.
add_executable(crash_spool crash/crash_spool.c)
target_link_libraries(crash_spool PRIVATE fieldcam_storage)
set(FIELDCAM_CRASH_KILLS 300 CACHE STRING "kills in the spool crash test")
add_test(NAME crash_spool COMMAND crash_spool ${FIELDCAM_CRASH_KILLS})
set_tests_properties(crash_spool PROPERTIES LABELS "crash")

fc_fuzz_target(fuzz_spool SOURCES fuzz/fuzz_spool.c LIBS fieldcam_storage
  CORPUS ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/corpus/spool)

# A really full file system (a 2 MiB tmpfs); skipped without root.
fc_unit_test(test_storage_enospc SOURCES unit/test_storage_enospc.c LIBS fieldcam_storage)
set_tests_properties(test_storage_enospc PROPERTIES SKIP_RETURN_CODE 77)

if(FIELDCAM_BENCH)
  add_executable(bench_spool bench/spool/bench_spool.c)
  target_link_libraries(bench_spool PRIVATE fieldcam_storage)
endif()

# fdatasync failing on demand (interposed in the test executable).
fc_unit_test(test_storage_fsync SOURCES unit/test_storage_fsync.c LIBS fieldcam_storage)
