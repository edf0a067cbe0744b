# SwitchyardPlugin.cmake: switchyard_add_plugin(), the one way to build a handler plugin.
#
#   switchyard_add_plugin(my_sink SOURCES my_sink.cc)
#
# Builds MODULE library my_sink.so (no "lib" prefix: the host loads PLUGINS_DIR/NAME.so) linked
# to Switchyard::sdk, with hidden visibility so that only the entry point is exported and two
# plugins never shadow each other's symbols.
function(switchyard_add_plugin name)
  cmake_parse_arguments(ARG "" "" "SOURCES" ${ARGN})
  if(NOT ARG_SOURCES)
    message(FATAL_ERROR "switchyard_add_plugin(${name}): SOURCES is required")
  endif()
  add_library(${name} MODULE ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE Switchyard::sdk)
  set_target_properties(${name} PROPERTIES
    PREFIX ""
    CXX_VISIBILITY_PRESET hidden
    C_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON)
  # Refuse undefined symbols at link time: a plugin that loads but dies at first call is worse.
  # Except with clang's sanitizers: their runtime is linked into the executable only, so a
  # sanitized plugin has undefined __asan_*/__ubsan_* symbols by design (GCC links libasan into
  # the plugin too and keeps the check).
  # Never ask for an executable stack: under the service's MemoryDenyWriteExecute=yes, dlopen()
  # of a library that needs one fails ("cannot enable executable stack").
  get_directory_property(_sy_options COMPILE_OPTIONS)
  if(CMAKE_CXX_COMPILER_ID STREQUAL "Clang" AND
     (SWITCHYARD_SANITIZE OR "${CMAKE_CXX_FLAGS} ${_sy_options}" MATCHES "-fsanitize="))
    target_link_options(${name} PRIVATE "LINKER:-z,noexecstack")
  else()
    target_link_options(${name} PRIVATE "LINKER:--no-undefined" "LINKER:-z,noexecstack")
  endif()
endfunction()
