# Finds fieldcam's libraries and makes one imported target for each:
#   fc::curl fc::cjson fc::turbojpeg fc::mbedcrypto fc::mbedtls fc::v4l2 (optional)
# A missing one stops the configure with the Debian package that provides it.
#
# With -DFIELDCAM_FIRMWARE=ON the same targets come from static libraries
# that toolchains/build-firmware.sh builds for the target from Debian's
# source packages (libcurl on mbedTLS, HTTP and HTTPS only, on musl), and
# fieldcam is linked fully static against musl and stripped, without
# libv4l2.
if(FIELDCAM_FIRMWARE)
  set(FIELDCAM_FIRMWARE_PREFIX "" CACHE PATH
    "prefix with the firmware's static libraries (empty: build them with toolchains/build-firmware.sh)")
  execute_process(COMMAND ${CMAKE_C_COMPILER} -dumpmachine
    OUTPUT_VARIABLE _fc_triple OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE _fc_rc)
  if(NOT _fc_rc EQUAL 0 OR NOT _fc_triple)
    message(FATAL_ERROR "firmware: ${CMAKE_C_COMPILER} -dumpmachine failed")
  endif()
  set(_fc_prefix "${FIELDCAM_FIRMWARE_PREFIX}")
  if(NOT _fc_prefix)
    # Up to date: returns at once. Else builds (about a minute per target).
    message(STATUS "firmware: static libraries for ${_fc_triple} (toolchains/build-firmware.sh)")
    execute_process(COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/build-firmware.sh ${_fc_triple}
      OUTPUT_VARIABLE _fc_out RESULT_VARIABLE _fc_rc)
    if(NOT _fc_rc EQUAL 0)
      message(FATAL_ERROR "firmware: toolchains/build-firmware.sh ${_fc_triple} failed")
    endif()
    string(STRIP "${_fc_out}" _fc_out)
    string(REGEX REPLACE "^.*\n" "" _fc_prefix "${_fc_out}")
  endif()
  if(NOT EXISTS "${_fc_prefix}/versions")
    message(FATAL_ERROR "firmware: ${_fc_prefix} has no versions file: not a build-firmware.sh prefix")
  endif()
  message(STATUS "firmware: libraries from ${_fc_prefix}")

  file(STRINGS "${_fc_prefix}/versions" _fc_versions)
  foreach(_l IN LISTS _fc_versions)
    string(REGEX MATCH "^([^ ]+) (.+)$" _m "${_l}")
    set(_fc_ver_${CMAKE_MATCH_1} "${CMAKE_MATCH_2}")
  endforeach()

  find_package(Threads REQUIRED)
  function(fc_static target lib)
    if(NOT EXISTS "${_fc_prefix}/lib/${lib}")
      message(FATAL_ERROR "firmware: ${_fc_prefix}/lib/${lib} missing: rebuild with toolchains/build-firmware.sh")
    endif()
    add_library(fc::${target} STATIC IMPORTED GLOBAL)
    set_target_properties(fc::${target} PROPERTIES IMPORTED_LOCATION "${_fc_prefix}/lib/${lib}"
      INTERFACE_INCLUDE_DIRECTORIES "${_fc_prefix}/include" INTERFACE_LINK_LIBRARIES "${ARGN}")
  endfunction()
  fc_static(mbedcrypto libmbedcrypto.a Threads::Threads)
  fc_static(mbedx509 libmbedx509.a fc::mbedcrypto)
  fc_static(mbedtls libmbedtls.a fc::mbedx509)
  fc_static(curl libcurl.a fc::mbedtls Threads::Threads)
  set_property(TARGET fc::curl PROPERTY INTERFACE_COMPILE_DEFINITIONS CURL_STATICLIB)
  fc_static(cjson libcjson.a m)
  fc_static(turbojpeg libturbojpeg.a)
  foreach(_t curl cjson turbojpeg)
    set(FC_HAVE_${_t} ON)
  endforeach()
  set(FC_HAVE_v4l2 OFF)
  string(REGEX REPLACE "-.*$" "" FC_curl_VERSION "${_fc_ver_curl}")
  string(REGEX REPLACE "-.*$" "" FC_cjson_VERSION "${_fc_ver_cjson}")
  set(FC_turbojpeg_VERSION "${_fc_ver_libjpeg-turbo-upstream}")

  # The test suite's cmocka (tests/CMakeLists.txt finds it with find_library)
  # comes from the same prefix, static too.
  list(PREPEND CMAKE_FIND_ROOT_PATH "${_fc_prefix}")
  list(PREPEND CMAKE_PREFIX_PATH "${_fc_prefix}")
  set(CMAKE_FIND_LIBRARY_SUFFIXES .a)

  # musl instead of glibc, through its specs (once per command line: the
  # compile and the link options never meet on one), with the GNU
  # strerror_r the sources expect; fully static; sections per function so
  # the link keeps only what is used.
  set(_fc_specs "${_fc_prefix}/lib/musl-gcc.specs")
  if(NOT EXISTS "${_fc_specs}")
    message(FATAL_ERROR "firmware: ${_fc_specs} missing: rebuild with toolchains/build-firmware.sh")
  endif()
  add_compile_options(-specs=${_fc_specs}
    -include ${CMAKE_CURRENT_LIST_DIR}/firmware/gnu-compat.h -ffunction-sections -fdata-sections
    -fno-asynchronous-unwind-tables -fno-unwind-tables)
  add_link_options(-specs=${_fc_specs} -static -Wl,--gc-sections)
  # fieldcam itself is stripped (tests keep their symbols for backtraces).
  function(_fc_firmware_strip)
    if(TARGET fieldcam)
      target_link_options(fieldcam PRIVATE -s)
    endif()
  endfunction()
  cmake_language(DEFER DIRECTORY ${CMAKE_SOURCE_DIR} CALL _fc_firmware_strip)
  return()
endif()

find_package(PkgConfig)
if(NOT PKG_CONFIG_FOUND)
  message(FATAL_ERROR "pkg-config not found: apt-get install pkg-config")
endif()

function(fc_pkg target module debpkg required)
  pkg_check_modules(_${target} QUIET IMPORTED_TARGET GLOBAL ${module})
  if(_${target}_FOUND)
    add_library(fc::${target} ALIAS PkgConfig::_${target})
    set(FC_${target}_VERSION "${_${target}_VERSION}" PARENT_SCOPE)
    set(FC_HAVE_${target} ON PARENT_SCOPE)
  elseif(required)
    message(FATAL_ERROR "${module} not found (pkg-config ${module}): apt-get install ${debpkg}")
  else()
    message(STATUS "${module} not found: building without it (apt-get install ${debpkg} to add it)")
    set(FC_HAVE_${target} OFF PARENT_SCOPE)
  endif()
endfunction()

fc_pkg(curl libcurl libcurl4-openssl-dev ON)
fc_pkg(cjson libcjson libcjson-dev ON)
fc_pkg(turbojpeg libturbojpeg libturbojpeg0-dev ON)
fc_pkg(v4l2 libv4l2 libv4l-dev OFF)

# Debian's mbedTLS 2.28 ships no .pc file.
find_path(MBEDTLS_INCLUDE_DIR mbedtls/version.h)
find_library(MBEDCRYPTO_LIBRARY mbedcrypto)
find_library(MBEDX509_LIBRARY mbedx509)
find_library(MBEDTLS_LIBRARY mbedtls)
if(NOT MBEDTLS_INCLUDE_DIR OR NOT MBEDCRYPTO_LIBRARY)
  message(FATAL_ERROR "mbedTLS (mbedcrypto) not found: apt-get install libmbedtls-dev")
endif()
add_library(fc::mbedcrypto UNKNOWN IMPORTED GLOBAL)
set_target_properties(fc::mbedcrypto PROPERTIES IMPORTED_LOCATION "${MBEDCRYPTO_LIBRARY}"
  INTERFACE_INCLUDE_DIRECTORIES "${MBEDTLS_INCLUDE_DIR}")
if(MBEDTLS_LIBRARY AND MBEDX509_LIBRARY)
  add_library(fc::mbedx509 UNKNOWN IMPORTED GLOBAL)
  set_target_properties(fc::mbedx509 PROPERTIES IMPORTED_LOCATION "${MBEDX509_LIBRARY}"
    INTERFACE_LINK_LIBRARIES fc::mbedcrypto)
  add_library(fc::mbedtls UNKNOWN IMPORTED GLOBAL)
  set_target_properties(fc::mbedtls PROPERTIES IMPORTED_LOCATION "${MBEDTLS_LIBRARY}"
    INTERFACE_LINK_LIBRARIES fc::mbedx509)
endif()
