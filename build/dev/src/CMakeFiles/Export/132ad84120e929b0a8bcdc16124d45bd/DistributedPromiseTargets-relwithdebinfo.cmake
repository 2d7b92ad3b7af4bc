#----------------------------------------------------------------
# Generated CMake target import file for configuration "RelWithDebInfo".
#----------------------------------------------------------------

# Commands may need to know the format version.
set(CMAKE_IMPORT_FILE_VERSION 1)

# Import target "DistributedPromise::DistributedPromise" for configuration "RelWithDebInfo"
set_property(TARGET DistributedPromise::DistributedPromise APPEND PROPERTY IMPORTED_CONFIGURATIONS RELWITHDEBINFO)
set_target_properties(DistributedPromise::DistributedPromise PROPERTIES
  IMPORTED_LINK_DEPENDENT_LIBRARIES_RELWITHDEBINFO "Qt6::Network"
  IMPORTED_LOCATION_RELWITHDEBINFO "${_IMPORT_PREFIX}/lib/libDistributedPromise.so.0.1.0"
  IMPORTED_SONAME_RELWITHDEBINFO "libDistributedPromise.so.0"
  )

list(APPEND _cmake_import_check_targets DistributedPromise::DistributedPromise )
list(APPEND _cmake_import_check_files_for_DistributedPromise::DistributedPromise "${_IMPORT_PREFIX}/lib/libDistributedPromise.so.0.1.0" )

# Commands beyond this point should not need to know the version.
set(CMAKE_IMPORT_FILE_VERSION)
