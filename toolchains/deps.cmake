# Finds fieldcam's libraries and makes one imported target for each:
#   fc::curl fc::cjson fc::turbojpeg fc::mbedcrypto fc::mbedtls fc::v4l2 (optional)
# A missing one stops the configure with the Debian package that provides it.
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
