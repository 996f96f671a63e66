# net/: crypto, retry policy, parsers, and the HTTP client against the
# reference endpoint (skipped without /usr/bin/python3 and its packages).
find_program(FC_SYSTEM_PYTHON3 NAMES python3 PATHS /usr/bin NO_DEFAULT_PATH)
fc_unit_test(test_net SOURCES unit/test_net.c unit/endpoint_fixture.c
  LIBS fieldcam_net fieldcam_base fc::mbedcrypto fc::cjson fc::turbojpeg m)
set_property(TEST test_net APPEND PROPERTY ENVIRONMENT
  "FIELDCAM_SOURCE_DIR=${PROJECT_SOURCE_DIR}" "FIELDCAM_PYTHON3=${FC_SYSTEM_PYTHON3}")
set_tests_properties(test_net PROPERTIES TIMEOUT 120 LABELS "unit;net")

# Every reply parser in net/vertex.c and retry.c.
fc_fuzz_target(fuzz_vertex SOURCES fuzz/fuzz_vertex.c LIBS fieldcam_net fieldcam_base
  CORPUS ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/corpus/vertex)

# net/gcs.c and net/batch.c: Cloud Storage, batch jobs, datasets, against
# the reference endpoint (jobs last 1 s there; skipped without Python).
fc_unit_test(test_net_batch SOURCES unit/test_net_batch.c unit/endpoint_fixture.c
  LIBS fieldcam_net fieldcam_base fc::cjson fc::turbojpeg)
set_property(TEST test_net_batch APPEND PROPERTY ENVIRONMENT
  "FIELDCAM_SOURCE_DIR=${PROJECT_SOURCE_DIR}" "FIELDCAM_PYTHON3=${FC_SYSTEM_PYTHON3}")
set_tests_properties(test_net_batch PROPERTIES TIMEOUT 120 LABELS "unit;net")

# Every parser in net/batch.c and net/gcs.c.
fc_fuzz_target(fuzz_gcs_batch SOURCES fuzz/fuzz_gcs_batch.c LIBS fieldcam_net fieldcam_base
  CORPUS ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/corpus/gcs_batch)
