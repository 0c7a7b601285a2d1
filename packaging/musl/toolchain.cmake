# Static musl builds with Zig's clang, libc++ and musl (packaging/musl/install-zig):
# OpenWrt's targets and one x86-64 binary for any Linux. The preset names the
# target as Zig spells it (SOCKPUSH_MUSL_TARGET, e.g. mips-linux-musl), the CPU
# (SOCKPUSH_MUSL_CPU, e.g. mips32r2: Zig's names, with underscores) and the
# emulator that runs the result here (SOCKPUSH_QEMU, empty for x86-64).
set(CMAKE_SYSTEM_NAME Linux)
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES SOCKPUSH_MUSL_TARGET SOCKPUSH_MUSL_CPU
     SOCKPUSH_MUSL_FLAGS SOCKPUSH_QEMU)
if(NOT SOCKPUSH_MUSL_TARGET)
  message(FATAL_ERROR "musl toolchain: set SOCKPUSH_MUSL_TARGET (an openwrt-* preset does)")
endif()
string(REGEX REPLACE "-.*" "" CMAKE_SYSTEM_PROCESSOR "${SOCKPUSH_MUSL_TARGET}")

# The pinned Zig, installed on first use (checksum checked by the script).
execute_process(COMMAND ${CMAKE_CURRENT_LIST_DIR}/install-zig
                OUTPUT_VARIABLE zig OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE failed)
if(failed)
  message(FATAL_ERROR "musl toolchain: packaging/musl/install-zig failed")
endif()
get_filename_component(zig_home ${zig} DIRECTORY)

# CMake wants one program per tool: small wrappers that add the target, kept
# next to Zig per target and CPU. Zig's cache (libc++ and musl built once per
# target) stays beside it too, not in the home directory.
set(flags -target ${SOCKPUSH_MUSL_TARGET})
if(SOCKPUSH_MUSL_CPU)
  list(APPEND flags -mcpu=${SOCKPUSH_MUSL_CPU})
endif()
list(APPEND flags ${SOCKPUSH_MUSL_FLAGS})
list(JOIN flags " " flags)
set(wrappers ${zig_home}/wrappers/${SOCKPUSH_MUSL_TARGET}-${SOCKPUSH_MUSL_CPU})
foreach(tool "cc:cc ${flags}" "c++:c++ ${flags}" "ar:ar" "ranlib:ranlib")
  string(REPLACE ":" ";" tool "${tool}")
  list(GET tool 0 name)
  list(GET tool 1 command)
  file(CONFIGURE OUTPUT ${wrappers}/${name}.in @ONLY CONTENT
"#!/bin/sh
export ZIG_GLOBAL_CACHE_DIR=\${ZIG_GLOBAL_CACHE_DIR:-${zig_home}/../zig-cache}
exec ${zig} ${command} \"$@\"
")
  file(COPY_FILE ${wrappers}/${name}.in ${wrappers}/${name} ONLY_IF_DIFFERENT)
  file(CHMOD ${wrappers}/${name} PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ
       GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)
endforeach()
set(CMAKE_C_COMPILER ${wrappers}/cc)
set(CMAKE_CXX_COMPILER ${wrappers}/c++)
set(CMAKE_AR ${wrappers}/ar CACHE FILEPATH "")
set(CMAKE_RANLIB ${wrappers}/ranlib CACHE FILEPATH "")
foreach(lang C CXX)
  set(CMAKE_${lang}_COMPILER_AR ${wrappers}/ar CACHE FILEPATH "")
  set(CMAKE_${lang}_COMPILER_RANLIB ${wrappers}/ranlib CACHE FILEPATH "")
endforeach()

# Boost.Asio 1.74 still names std::result_of, which libc++ drops in C++20.
# spdlog 1.10 calls fstat64 on x86-64, which musl 1.2.4 declares only for
# code that asks for the LFS64 names.
add_compile_definitions(_LIBCPP_ENABLE_CXX20_REMOVED_TYPE_TRAITS _LARGEFILE64_SOURCE)

# Zig 0.11 dies (SIGSEGV) linking any C++ program for 32-bit ARM when the link
# has -flto, even an empty main (C links). The objects stay LTO bitcode, and
# its lld still optimises them together at the link without the flag; -fno-lto
# comes after CMake's -flto=thin there, and the last one counts.
if(SOCKPUSH_MUSL_TARGET MATCHES "^arm-")
  set(CMAKE_CXX_LINK_OPTIONS_IPO -fno-lto)
endif()

# Nothing from the host: Zig brings musl's and libc++'s headers, and the
# header-only dependencies come through SOCKPUSH_THIRD_PARTY_DIR, laid out
# from the host's packages one directory each (packaging/cross/host-headers.cmake).
set(CMAKE_FIND_ROOT_PATH ${zig_home}/lib)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# Static binaries: qemu-user needs no sysroot. x86-64, the CPU of the machines
# that build and test, runs its binaries natively (the tests still use
# SOCKPUSH_QEMU where they need qemu-user's refusal of sock_diag).
if(SOCKPUSH_QEMU AND NOT SOCKPUSH_MUSL_TARGET MATCHES "^x86_64-")
  set(CMAKE_CROSSCOMPILING_EMULATOR ${SOCKPUSH_QEMU})
endif()
