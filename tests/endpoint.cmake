# The local reference endpoint (tests/endpoint/): its own test suite.
# Needs Debian's /usr/bin/python3 with python3-cryptography and python3-pil.
find_program(FC_SYSTEM_PYTHON3 NAMES python3 PATHS /usr/bin NO_DEFAULT_PATH)
if(FC_SYSTEM_PYTHON3)
  add_test(NAME endpoint_refendpoint
    COMMAND ${FC_SYSTEM_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/endpoint/test_refendpoint.py)
  set_tests_properties(endpoint_refendpoint PROPERTIES LABELS "endpoint" TIMEOUT 120)
else()
  message(WARNING "/usr/bin/python3 not found: endpoint tests not registered")
endif()
