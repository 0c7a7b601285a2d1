# The header-only dependencies of a cross build, taken from the host's Debian
# packages one directory at a time, laid out the way SOCKPUSH_THIRD_PARTY_DIR
# expects (<dir>/<library>/include): the host's /usr/include itself, with its
# glibc headers, never reaches the cross compiler.
function(sockpush_host_headers dir)
  set(layout
    "boost:boost" "spdlog:spdlog" "fmt:fmt" "toml11:toml,toml.hpp" "CLI11:CLI"
    "fast_float:fast_float" "doctest:doctest")
  foreach(entry ${layout})
    string(REGEX REPLACE "[:,]" ";" parts "${entry}")
    list(POP_FRONT parts library)
    file(MAKE_DIRECTORY ${dir}/${library}/include)
    foreach(name ${parts})
      if(NOT EXISTS /usr/include/${name})
        message(FATAL_ERROR "cross build: no /usr/include/${name} on the host (install the "
                            "Debian package that has it: see tests/run)")
      endif()
      file(CREATE_LINK /usr/include/${name} ${dir}/${library}/include/${name} SYMBOLIC)
    endforeach()
  endforeach()
endfunction()
