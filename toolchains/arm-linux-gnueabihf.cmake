# Cross toolchain for arm-linux-gnueabihf, using Debian's cross compiler
# (apt-get install gcc-arm-linux-gnueabihf libc6-dev-armhf-cross).
# Use with -DCMAKE_TOOLCHAIN_FILE=toolchains/arm-linux-gnueabihf.cmake.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR arm)
set(CMAKE_C_COMPILER arm-linux-gnueabihf-gcc)
set(CMAKE_CXX_COMPILER arm-linux-gnueabihf-g++)
set(CMAKE_FIND_ROOT_PATH /usr/arm-linux-gnueabihf)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
# ctest runs the target's executables under qemu-user (apt-get install
# qemu-user-static); -L finds the dynamic loader of a non-static build.
find_program(FIELDCAM_QEMU_ARM NAMES qemu-arm-static qemu-arm)
if(FIELDCAM_QEMU_ARM)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${FIELDCAM_QEMU_ARM} -L /usr/arm-linux-gnueabihf)
endif()
