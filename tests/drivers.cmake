# drivers/: sources and the encoder.
fc_unit_test(test_drivers SOURCES unit/test_drivers.c LIBS fieldcam_drivers fc::turbojpeg)
target_include_directories(test_drivers PRIVATE ${PROJECT_SOURCE_DIR}/drivers)
fc_fuzz_target(fuzz_mjpeg SOURCES fuzz/fuzz_mjpeg.c LIBS fieldcam_drivers
  CORPUS ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/corpus/mjpeg)

# The row kernels: this build's (SSE2 on x86-64), and NEON under qemu-user.
add_executable(check_yuvsplit unit/check_yuvsplit.c)
target_link_libraries(check_yuvsplit PRIVATE fieldcam_drivers)
target_include_directories(check_yuvsplit PRIVATE ${PROJECT_SOURCE_DIR}/drivers)
add_test(NAME check_yuvsplit COMMAND check_yuvsplit)
set_tests_properties(check_yuvsplit PROPERTIES LABELS "unit")
add_test(NAME check_yuvsplit_neon
  COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/unit/cross-yuvsplit.sh ${PROJECT_SOURCE_DIR}
          ${CMAKE_CURRENT_BINARY_DIR}/cross-yuvsplit)
set_tests_properties(check_yuvsplit_neon PROPERTIES LABELS "unit" SKIP_RETURN_CODE 77)

if(FIELDCAM_BENCH)
  add_executable(bench_encode bench/encode/bench_encode.c)
  target_link_libraries(bench_encode PRIVATE fieldcam_drivers fc::turbojpeg)
endif()
