# The kernel's vivid V4L2 driver in a QEMU guest (TCG): capture in every
# format, and faults pressed from a second process. Skipped (77) where QEMU
# or Debian's kernel package cannot be had.
add_test(NAME vm_vivid_capture
  COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/vm/test-vivid.sh $<TARGET_FILE:fieldcam>
          ${CMAKE_CURRENT_BINARY_DIR}/vm-vivid)
set_tests_properties(vm_vivid_capture PROPERTIES LABELS "vm;slow" TIMEOUT 900
  SKIP_RETURN_CODE 77 RUN_SERIAL TRUE)
