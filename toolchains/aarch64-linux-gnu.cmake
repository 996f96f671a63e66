# Cross toolchain for aarch64-linux-gnu, using Debian's cross compiler
# (apt-get install gcc-aarch64-linux-gnu libc6-dev-arm64-cross).
# Use with -DCMAKE_TOOLCHAIN_FILE=toolchains/aarch64-linux-gnu.cmake.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
# ctest runs the target's executables under qemu-user (apt-get install
# qemu-user-static); -L finds the dynamic loader of a non-static build.
find_program(FIELDCAM_QEMU_AARCH64 NAMES qemu-aarch64-static qemu-aarch64)
if(FIELDCAM_QEMU_AARCH64)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${FIELDCAM_QEMU_AARCH64} -L /usr/aarch64-linux-gnu)
endif()
