# cmake -DLIBRARY=<libDistributedPromise.so> -DNM=<nm> -P CheckExports.cmake
#
# Fails when the shared library exports a symbol outside its public names: the classes and structs
# of include/ (with their moc data, vtables and typeinfo) and DistributedPromiseDetail, which the
# public templates call. Weak symbols the compiler emits for std:: or Qt templates over public or
# Qt types are allowed (every user's own code may emit them too), unless they name a private type.
cmake_minimum_required(VERSION 3.21)

foreach(var LIBRARY NM)
    if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
        message(FATAL_ERROR "CheckExports.cmake: -D${var}=... is required")
    endif()
endforeach()

set(public_names DistributedPromise DistributedPromiseCodec DistributedPromiseConfig
    DistributedPromiseCallEvent DistributedPromiseContext DistributedPromiseDetail DistributedPromiseError
    DistributedPromiseFunction DistributedPromiseStats
    DistributedPromiseWrapOptions DistributedPromiseWrapper)
list(JOIN public_names "|" public_alternatives)
# What the compiler puts before a class's name for its special symbols.
set(special "(typeinfo for |typeinfo name for |vtable for |VTT for |construction vtable for |non-virtual thunk to |virtual thunk to |guard variable for )?")

execute_process(COMMAND "${NM}" -D --defined-only -C "${LIBRARY}"
    RESULT_VARIABLE result OUTPUT_VARIABLE output ERROR_VARIABLE errors)
if(NOT result EQUAL 0)
    message(FATAL_ERROR "exported symbols: ${NM} failed on ${LIBRARY} (${result}):\n${errors}")
endif()
string(REPLACE ";" "\\;" output "${output}")
string(REPLACE "\n" ";" lines "${output}")

set(count 0)
set(bad)
foreach(line IN LISTS lines)
    # "<address> <type> <name>"
    if(NOT line MATCHES "^[0-9a-fA-F]+ ([A-Za-z]) (.*)$")
        continue()
    endif()
    set(type "${CMAKE_MATCH_1}")
    set(name "${CMAKE_MATCH_2}")
    math(EXPR count "${count} + 1")
    # AddressSanitizer's ODR indicator of an exported global, named by its mangled name.
    if(name MATCHES "^__odr_asan\\._ZN?[0-9]+(${public_alternatives})[0-9]")
        continue()
    endif()
    # Every name of ours in the symbol must be a public one.
    string(REGEX MATCHALL "DistributedPromise[A-Za-z0-9_]*" ours "${name}")
    set(private_ones ${ours})
    list(FILTER private_ones EXCLUDE REGEX "^(${public_alternatives})$")
    if(private_ones)
        list(APPEND bad "${type} ${name}")
        continue()
    endif()
    # A strong symbol is ours and public: it belongs to a public class or namespace.
    if(NOT type MATCHES "^[WVu]$" AND NOT name MATCHES "^${special}(${public_alternatives})::")
        list(APPEND bad "${type} ${name}")
    endif()
endforeach()

if(count EQUAL 0)
    message(FATAL_ERROR "exported symbols: ${NM} listed no symbols in ${LIBRARY}")
endif()
list(LENGTH bad bad_count)
if(bad_count GREATER 0)
    list(JOIN bad "\n  " bad_text)
    message(FATAL_ERROR "exported symbols: ${bad_count} of the ${count} symbols exported by "
        "${LIBRARY} are not public (mark them DISTRIBUTEDPROMISE_EXPORT only if include/ declares "
        "them):\n  ${bad_text}")
endif()
message(STATUS "exported symbols: all ${count} symbols of ${LIBRARY} are public")
