# drivers/: sources and the encoder.
fc_unit_test(test_drivers SOURCES unit/test_drivers.c LIBS fieldcam_drivers fc::turbojpeg)
fc_fuzz_target(fuzz_mjpeg SOURCES fuzz/fuzz_mjpeg.c LIBS fieldcam_drivers
  CORPUS ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/corpus/mjpeg)

if(FIELDCAM_BENCH)
  add_executable(bench_encode bench/encode/bench_encode.c)
  target_link_libraries(bench_encode PRIVATE fieldcam_drivers)
endif()
