# EmbedLua.cmake: switchyard_embed_lua(), which embeds Redis Lua scripts (.lua files) in a target.
#
# switchyard_embed_lua(<target> HEADER <path> SCRIPTS <file.lua>... [FRAGMENTS <file.lua>...])
#   At build time, writes ${CMAKE_BINARY_DIR}/generated/<path>, a header holding each script of
#   SCRIPTS as `inline constexpr char k<Name>[]` in namespace switchyard::lua, where <Name> is the
#   file name in CamelCase (list_take.lua: kListTake). A script line `--@include <file.lua>` is
#   replaced by the text of that file (relative to the script's folder), one of FRAGMENTS: shared
#   Lua functions written once. Paths are relative to the calling CMakeLists.txt. The target gets
#   the header as a source (so it is generated first) and ${CMAKE_BINARY_DIR}/generated as a
#   PUBLIC include directory. The generated header never goes into the source tree.
set(SWITCHYARD_EMBED_LUA_SCRIPT ${CMAKE_CURRENT_LIST_DIR}/embed_lua.cmake)

function(switchyard_embed_lua target)
  cmake_parse_arguments(ARG "" "HEADER" "SCRIPTS;FRAGMENTS" ${ARGN})
  if(NOT ARG_HEADER OR NOT ARG_SCRIPTS)
    message(FATAL_ERROR "switchyard_embed_lua(${target}): HEADER and SCRIPTS are required")
  endif()
  set(output ${CMAKE_BINARY_DIR}/generated/${ARG_HEADER})
  set(scripts "")
  foreach(file IN LISTS ARG_SCRIPTS)
    list(APPEND scripts ${CMAKE_CURRENT_SOURCE_DIR}/${file})
  endforeach()
  set(fragments "")
  foreach(file IN LISTS ARG_FRAGMENTS)
    list(APPEND fragments ${CMAKE_CURRENT_SOURCE_DIR}/${file})
  endforeach()
  string(REPLACE ";" "|" script_arg "${scripts}")
  add_custom_command(
    OUTPUT ${output}
    COMMAND ${CMAKE_COMMAND} -DOUTPUT=${output} -DSOURCE_DIR=${PROJECT_SOURCE_DIR}
            -DSCRIPTS=${script_arg}
            -P ${SWITCHYARD_EMBED_LUA_SCRIPT}
    DEPENDS ${scripts} ${fragments} ${SWITCHYARD_EMBED_LUA_SCRIPT}
    COMMENT "Embedding Lua scripts in ${ARG_HEADER}"
    VERBATIM)
  target_sources(${target} PRIVATE ${output})
  target_include_directories(${target} PUBLIC ${CMAKE_BINARY_DIR}/generated)
endfunction()
