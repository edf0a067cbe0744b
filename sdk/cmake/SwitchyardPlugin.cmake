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
  # Never ask for an executable stack: under the service's MemoryDenyWriteExecute=yes, dlopen()
  # of a library that needs one fails ("cannot enable executable stack").
  target_link_options(${name} PRIVATE "LINKER:--no-undefined" "LINKER:-z,noexecstack")
endfunction()
