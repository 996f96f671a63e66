# The boards' systemd units (every build), and the firmware profile
# (-DFIELDCAM_FIRMWARE=ON, see toolchains/): what the binary is, the unit
# tests under qemu-user when cross-compiled, and the ARM board test (the
# aarch64 binary on Debian's arm64 kernel with vivid in qemu-system-aarch64).
# The online end-to-end test (integration.cmake) runs against this same
# firmware binary in a host firmware build.

# boards/: unit hardening and verification, in every build.
add_test(NAME boards_units
  COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/firmware/check-boards.sh ${PROJECT_SOURCE_DIR}/boards
          $<TARGET_FILE:fieldcam>)
set_tests_properties(boards_units PROPERTIES LABELS "boards;firmware" TIMEOUT 60)

if(NOT FIELDCAM_FIRMWARE)
  return()
endif()

# Cross-compiled: ctest runs executables through CMAKE_CROSSCOMPILING_EMULATOR
# (qemu-user, set by the toolchain file), but a test that starts fieldcam
# itself (test_config) needs a way in without binfmt_misc: a wrapper.
set(FC_FIRMWARE_RUN "")
if(CMAKE_CROSSCOMPILING)
  if(NOT CMAKE_CROSSCOMPILING_EMULATOR)
    message(STATUS "firmware: no qemu-user for ${CMAKE_SYSTEM_PROCESSOR}: "
      "tests are built, not run (apt-get install qemu-user-static)")
  else()
    string(REPLACE ";" " " _fc_emu "${CMAKE_CROSSCOMPILING_EMULATOR}")
    set(FC_FIRMWARE_RUN "${CMAKE_CURRENT_BINARY_DIR}/fieldcam-emu")
    file(GENERATE OUTPUT ${FC_FIRMWARE_RUN}
      CONTENT "#!/bin/sh\n# fieldcam for ${CMAKE_SYSTEM_PROCESSOR} under qemu-user\nexec ${_fc_emu} \"$<TARGET_FILE:fieldcam>\" \"$@\"\n"
      FILE_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE
        WORLD_READ WORLD_EXECUTE)
    if(TEST test_config)
      # the last FIELDCAM_BIN in the list is the one the test sees
      set_property(TEST test_config APPEND PROPERTY ENVIRONMENT "FIELDCAM_BIN=${FC_FIRMWARE_RUN}")
    endif()
  endif()
endif()

# Static, stripped, no OpenSSL, mbedTLS as libcurl's TLS backend, under the
# size goal, and it runs (through qemu-user when cross-compiled).
set(FIELDCAM_FIRMWARE_MAX_BYTES 1500000 CACHE STRING
  "largest stripped firmware binary the firmware_binary test accepts")
add_test(NAME firmware_binary
  COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/firmware/check-binary.sh $<TARGET_FILE:fieldcam>
          ${FIELDCAM_FIRMWARE_MAX_BYTES} ${FC_FIRMWARE_RUN})
set_tests_properties(firmware_binary PROPERTIES LABELS "firmware" TIMEOUT 60)

# The ARM board: Debian's arm64 kernel, vivid, the static aarch64 binary
# capturing and spooling; every JPEG is decoded on this side. 77 = skipped
# (no qemu-system-aarch64, no kernel package to be had).
if(CMAKE_SYSTEM_PROCESSOR MATCHES "^(aarch64|arm64)$")
  add_test(NAME firmware_arm64_vivid
    COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/firmware/test-arm64-vivid.sh $<TARGET_FILE:fieldcam>
            ${CMAKE_CURRENT_BINARY_DIR}/arm64-vivid)
  set_tests_properties(firmware_arm64_vivid PROPERTIES LABELS "firmware;vm" TIMEOUT 600
    SKIP_RETURN_CODE 77 RUN_SERIAL TRUE)
endif()
