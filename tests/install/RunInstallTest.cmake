# cmake -DBUILD_DIR=... -DCONSUMER_SOURCE_DIR=... -DWORK_DIR=... -DWITH_REDIS=... \
#       [-DCONFIG=...] [-DGENERATOR=...] [-DMAKE_PROGRAM=...] [-DWITH_QML=ON -DQML_INSTALL_DIR=...] \
#       [-DSANITIZERS=ON] \
#       -P RunInstallTest.cmake
#
# 1. cmake --install BUILD_DIR --prefix WORK_DIR/prefix
# 2. configure and build CONSUMER_SOURCE_DIR with CMAKE_PREFIX_PATH=WORK_DIR/prefix
# 3. run the consumer under scripts/with-redis.sh (a private redis-server) and check its output
cmake_minimum_required(VERSION 3.21)

foreach(var BUILD_DIR CONSUMER_SOURCE_DIR WORK_DIR WITH_REDIS)
    if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
        message(FATAL_ERROR "RunInstallTest.cmake: -D${var}=... is required")
    endif()
endforeach()

set(prefix "${WORK_DIR}/prefix")
set(consumer_build "${WORK_DIR}/consumer-build")
file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")

# Runs a command; on failure prints what it printed and stops the test.
function(run what)
    execute_process(COMMAND ${ARGN}
        RESULT_VARIABLE result OUTPUT_VARIABLE output ERROR_VARIABLE output)
    if(NOT result EQUAL 0)
        message(FATAL_ERROR "install test: ${what} failed (${result}):\n${output}")
    endif()
    set(output "${output}" PARENT_SCOPE)
endfunction()

# 1. Install.
set(config_args)
if(CONFIG)
    set(config_args --config "${CONFIG}")
endif()
run("cmake --install" "${CMAKE_COMMAND}" --install "${BUILD_DIR}" --prefix "${prefix}" ${config_args})
file(GLOB_RECURSE package_config "${prefix}/*/DistributedPromiseConfig.cmake")
if(NOT package_config)
    message(FATAL_ERROR "install test: no DistributedPromiseConfig.cmake under ${prefix}")
endif()
foreach(header DistributedPromise distributedpromise_export.h)
    if(NOT EXISTS "${prefix}/include/DistributedPromise/${header}")
        message(FATAL_ERROR "install test: include/DistributedPromise/${header} was not installed")
    endif()
endforeach()
set(qml_import_path)
if(WITH_QML)
    set(qml_import_path "${prefix}/${QML_INSTALL_DIR}")
    file(GLOB plugin "${qml_import_path}/DistributedPromise/*DistributedPromiseQmlPlugin*")
    if(NOT EXISTS "${qml_import_path}/DistributedPromise/qmldir" OR NOT plugin)
        message(FATAL_ERROR "install test: the QML module is not in ${qml_import_path}/DistributedPromise")
    endif()
endif()

# 2. Configure and build the consumer against the prefix only.
set(generator_args)
if(GENERATOR)
    list(APPEND generator_args -G "${GENERATOR}")
endif()
if(MAKE_PROGRAM)
    list(APPEND generator_args "-DCMAKE_MAKE_PROGRAM=${MAKE_PROGRAM}")
endif()
if(SANITIZERS)
    # The installed library is instrumented; so must the program that loads it be.
    list(APPEND generator_args "-DCMAKE_CXX_FLAGS=-fsanitize=address,undefined"
                               "-DCMAKE_EXE_LINKER_FLAGS=-fsanitize=address,undefined")
endif()
if(WITH_QML)
    set(with_qml ON)
else()
    set(with_qml OFF)
endif()
run("configuring the consumer" "${CMAKE_COMMAND}" -S "${CONSUMER_SOURCE_DIR}" -B "${consumer_build}"
    ${generator_args} -DCMAKE_BUILD_TYPE=Release "-DCMAKE_PREFIX_PATH=${prefix}"
    -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF -DCONSUMER_WITH_QML=${with_qml})
file(STRINGS "${consumer_build}/CMakeCache.txt" found_dir REGEX "^DistributedPromise_DIR:")
string(FIND "${found_dir}" "${prefix}/" at)
if(at EQUAL -1)
    message(FATAL_ERROR "install test: the consumer found DistributedPromise outside ${prefix}: ${found_dir}")
endif()
run("building the consumer" "${CMAKE_COMMAND}" --build "${consumer_build}" ${config_args})

# 3. Run it against a private redis-server.
file(GLOB_RECURSE consumer_exe "${consumer_build}/consumer" "${consumer_build}/consumer.exe")
if(NOT consumer_exe)
    message(FATAL_ERROR "install test: the consumer executable is missing in ${consumer_build}")
endif()
list(GET consumer_exe 0 consumer_exe)
run("running the consumer" "${CMAKE_COMMAND}" -E env "QML_IMPORT_PATH=${qml_import_path}"
    bash "${WITH_REDIS}" "${consumer_exe}")
message(STATUS "consumer output:\n${output}")
set(expected "square(7) = 49")
if(WITH_QML)
    list(APPEND expected "qml: square(8) = 64")
endif()
foreach(line IN LISTS expected)
    string(FIND "${output}" "${line}" at)
    if(at EQUAL -1)
        message(FATAL_ERROR "install test: the consumer did not print \"${line}\"")
    endif()
endforeach()
message(STATUS "install test: ok (prefix ${prefix})")
