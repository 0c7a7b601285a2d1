# Cross builds with Debian's cross toolchains (g++-<triple>), run under
# qemu-user. The triple comes from the preset: SOCKPUSH_CROSS_TRIPLE, e.g.
# mips-linux-gnu (big-endian MIPS32), arm-linux-gnueabihf, aarch64-linux-gnu;
# SOCKPUSH_QEMU names the emulator (qemu-mips, qemu-arm, qemu-aarch64).
set(CMAKE_SYSTEM_NAME Linux)
# The compiler checks' own small projects need the triple too.
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES SOCKPUSH_CROSS_TRIPLE SOCKPUSH_QEMU)
if(NOT SOCKPUSH_CROSS_TRIPLE)
  message(FATAL_ERROR "cross toolchain: set SOCKPUSH_CROSS_TRIPLE (a cross preset does)")
endif()
string(REGEX REPLACE "-.*" "" CMAKE_SYSTEM_PROCESSOR "${SOCKPUSH_CROSS_TRIPLE}")
set(CMAKE_C_COMPILER ${SOCKPUSH_CROSS_TRIPLE}-gcc)
set(CMAKE_CXX_COMPILER ${SOCKPUSH_CROSS_TRIPLE}-g++)

# Headers and libraries only from the target's own tree: the host's
# /usr/include (its glibc among them) must never be on the include path.
# The header-only dependencies come through SOCKPUSH_THIRD_PARTY_DIR
# (packaging/cross/host-headers.cmake lays it out from the host's packages).
set(CMAKE_FIND_ROOT_PATH /usr/${SOCKPUSH_CROSS_TRIPLE})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

if(SOCKPUSH_QEMU)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${SOCKPUSH_QEMU} -L /usr/${SOCKPUSH_CROSS_TRIPLE})
endif()
