# Additional clean files
cmake_minimum_required(VERSION 3.16)

if("${CONFIG}" STREQUAL "" OR "${CONFIG}" STREQUAL "RelWithDebInfo")
  file(REMOVE_RECURSE
  "src/CMakeFiles/DistributedPromise_autogen.dir/AutogenUsed.txt"
  "src/CMakeFiles/DistributedPromise_autogen.dir/ParseCache.txt"
  "src/DistributedPromise_autogen"
  )
endif()
