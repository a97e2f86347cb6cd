# Build helpers shared by every capability folder.

# pgstack_add_test(<name> SOURCES a_test.cc ... LIBS lib ... [OWN_MAIN] [ONE_PROCESS] [TIMEOUT s])
# One GoogleTest binary per folder; each test case is registered with ctest on its own
# so `ctest -j` spreads them over the cores and a failure names the case.
# ONE_PROCESS registers the binary as a single ctest instead: for suites whose fixture
# is a whole stack (SetUpTestSuite), built once rather than once per case; gtest's
# output still names the failing case.
# With BUILD_TESTING off (an application's build, or one that needs no GoogleTest) the
# binary is only declared, EXCLUDE_FROM_ALL and not registered, so that a folder's lines
# after the call (compile definitions, dependencies) still apply; nothing builds it.
function(pgstack_add_test name)
  cmake_parse_arguments(ARG "OWN_MAIN;ONE_PROCESS" "TIMEOUT" "SOURCES;LIBS" ${ARGN})
  if(NOT BUILD_TESTING)
    add_executable(${name} EXCLUDE_FROM_ALL ${ARG_SOURCES})
    return()
  endif()
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_LIBS} GTest::gtest GTest::gmock nlohmann_json::nlohmann_json fmt::fmt
                                        Threads::Threads)
  # Test code itself is not optimised: its time goes to the servers it drives, and -O0
  # compiles a test file about a quarter faster (make test must stay within 15 minutes
  # on 2 cores). The libraries under test keep the build type's flags.
  target_compile_options(${name} PRIVATE -O0)
  # The shared precompiled header (pgstack_test_pch below): same flags, so it applies.
  target_precompile_headers(${name} REUSE_FROM pgstack_test_pch)
  if(NOT ARG_OWN_MAIN)
    target_link_libraries(${name} PRIVATE GTest::gtest_main)
  endif()
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 300)
  endif()
  if(ARG_ONE_PROCESS)
    add_test(NAME ${name} COMMAND ${name})
    # A whole suite in one process runs for tens of seconds: on a machine with no timing
    # data yet (a fresh clone), COST makes ctest -j start these first, so none of them is
    # left running alone at the end.
    set_tests_properties(${name} PROPERTIES TIMEOUT ${ARG_TIMEOUT} COST 50)
    return()
  endif()
  include(GoogleTest)
  gtest_discover_tests(${name} DISCOVERY_TIMEOUT 60 PROPERTIES TIMEOUT ${ARG_TIMEOUT})
endfunction()

# pgstack_sql_module(<module> DIR <folder with NNN_name.sql files> [DEPENDS other ...])
# Declares a module whose migrations are embedded into the binary at build time.
# Adding a workload needs only this call in its own CMakeLists.txt.
function(pgstack_sql_module module)
  cmake_parse_arguments(ARG "" "DIR" "DEPENDS" ${ARGN})
  file(GLOB files CONFIGURE_DEPENDS "${ARG_DIR}/*.sql")
  list(SORT files)
  set_property(GLOBAL APPEND PROPERTY PGSTACK_SQL_MODULES ${module})
  set_property(GLOBAL PROPERTY PGSTACK_SQL_MODULE_${module}_FILES ${files})
  set_property(GLOBAL PROPERTY PGSTACK_SQL_MODULE_${module}_DEPENDS "${ARG_DEPENDS}")
endfunction()

# pgstack_capability(<name> LIBRARY <target> [SQL_DIR <folder>] [DEPENDS <module> ...]
#                    [COMMANDS <target>])
# Registers a capability (pgstack/capability/capability.h) — the one line a new
# capability adds, in its own CMakeLists.txt: LIBRARY defines pgstack::<name>::capability();
# SQL_DIR holds its migrations (embedded as module <name>, after DEPENDS); COMMANDS, when
# given, defines pgstack::<name>::add_commands(CLI::App&), its `pgstack <name> ...` group.
function(pgstack_capability name)
  cmake_parse_arguments(ARG "" "LIBRARY;SQL_DIR;COMMANDS" "DEPENDS" ${ARGN})
  if(ARG_SQL_DIR)
    pgstack_sql_module(${name} DIR ${ARG_SQL_DIR} DEPENDS ${ARG_DEPENDS})
  endif()
  set_property(GLOBAL APPEND PROPERTY PGSTACK_CAPABILITIES ${name})
  set_property(GLOBAL PROPERTY PGSTACK_CAPABILITY_${name}_LIBRARY ${ARG_LIBRARY})
  set_property(GLOBAL PROPERTY PGSTACK_CAPABILITY_${name}_COMMANDS "${ARG_COMMANDS}")
endfunction()

# Generates the registry of every pgstack_capability(): pgstack_capabilities (the list,
# capability::capabilities(); for doctor, metrics, advise) and pgstack_capability_commands
# (cli::add_capability_commands(); for the CLI only, so nothing below the CLI links
# command-line code).
function(pgstack_generate_capability_registry)
  get_property(names GLOBAL PROPERTY PGSTACK_CAPABILITIES)
  set(decls "")
  set(calls "")
  set(command_decls "")
  set(command_calls "")
  set(libraries "")
  set(command_libraries "")
  foreach(name IN LISTS names)
    get_property(library GLOBAL PROPERTY PGSTACK_CAPABILITY_${name}_LIBRARY)
    get_property(commands GLOBAL PROPERTY PGSTACK_CAPABILITY_${name}_COMMANDS)
    string(APPEND decls "namespace pgstack::${name} { capability::Capability capability(); }\n")
    string(APPEND calls "      pgstack::${name}::capability(),\n")
    list(APPEND libraries ${library})
    if(commands)
      string(APPEND command_decls "namespace pgstack::${name} { void add_commands(CLI::App& app); }\n")
      string(APPEND command_calls "  pgstack::${name}::add_commands(app);\n")
      list(APPEND command_libraries ${commands})
    endif()
  endforeach()
  set(generated ${CMAKE_BINARY_DIR}/generated)
  file(CONFIGURE OUTPUT ${generated}/builtin_capabilities.cc CONTENT
"// Generated by cmake/pgstack.cmake from the pgstack_capability() calls; do not edit.
#include \"pgstack/capability/capability.h\"

${decls}
namespace pgstack::capability {
std::vector<Capability> builtin_capabilities() {
  return {
${calls}  };
}
}  // namespace pgstack::capability
")
  file(CONFIGURE OUTPUT ${generated}/builtin_commands.cc CONTENT
"// Generated by cmake/pgstack.cmake from the pgstack_capability() calls; do not edit.
namespace CLI {
class App;
}

${command_decls}
namespace pgstack::cli {
void add_capability_commands(CLI::App& app) {
${command_calls}}
}  // namespace pgstack::cli
")
  add_library(pgstack_capabilities STATIC ${generated}/builtin_capabilities.cc
                                          ${PROJECT_SOURCE_DIR}/pgstack/capability/registry.cc)
  target_link_libraries(pgstack_capabilities PUBLIC pgstack_capability ${libraries})
  pgstack_export_library(pgstack_capabilities)  # pgstack::capabilities
  add_library(pgstack_capability_commands STATIC ${generated}/builtin_commands.cc)
  target_link_libraries(pgstack_capability_commands PUBLIC ${command_libraries})
endfunction()

# Generates builtin_modules.cc (the definition of pgstack::schema::builtin_modules())
# from every declared module, re-generated whenever one of the .sql files changes.
function(pgstack_generate_module_registry)
  get_property(modules GLOBAL PROPERTY PGSTACK_SQL_MODULES)
  set(spec "")
  set(all_files "")
  foreach(module IN LISTS modules)
    get_property(files GLOBAL PROPERTY PGSTACK_SQL_MODULE_${module}_FILES)
    get_property(deps GLOBAL PROPERTY PGSTACK_SQL_MODULE_${module}_DEPENDS)
    string(REPLACE ";" "," files_csv "${files}")
    string(REPLACE ";" "," deps_csv "${deps}")
    string(APPEND spec "${module}|${deps_csv}|${files_csv}\n")
    list(APPEND all_files ${files})
  endforeach()
  set(spec_file ${CMAKE_BINARY_DIR}/generated/sql_modules.txt)
  file(CONFIGURE OUTPUT ${spec_file} CONTENT "${spec}")
  set(out ${CMAKE_BINARY_DIR}/generated/builtin_modules.cc)
  add_custom_command(
    OUTPUT ${out}
    COMMAND ${CMAKE_COMMAND} -DSPEC=${spec_file} -DOUT=${out}
            -P ${PROJECT_SOURCE_DIR}/cmake/embed_sql.cmake
    DEPENDS ${all_files} ${spec_file} ${PROJECT_SOURCE_DIR}/cmake/embed_sql.cmake
    COMMENT "Embedding SQL migrations")
  add_library(pgstack_modules STATIC ${out} ${PROJECT_SOURCE_DIR}/pgstack/schema/builtin_module_list.cc)
  target_link_libraries(pgstack_modules PUBLIC pgstack_schema)
  pgstack_export_library(pgstack_modules)  # pgstack::modules: pgstack's SQL, for an app to install
endfunction()

# pgstack_test_pch: the precompiled header of every test binary (pgstack_add_test), made
# once: GoogleTest, GoogleMock, nlohmann/json and fmt are most of a test file's compile
# time. Its flags match the tests' (-O0, the same libraries' definitions) so GCC can use it.
# Only with BUILD_TESTING (GoogleTest is found only then).
function(pgstack_add_test_pch)
  if(NOT BUILD_TESTING)
    return()
  endif()
  add_library(pgstack_test_pch OBJECT ${PROJECT_SOURCE_DIR}/pgstack/testing/test_pch.cc)
  target_link_libraries(pgstack_test_pch PRIVATE GTest::gtest GTest::gmock nlohmann_json::nlohmann_json fmt::fmt
                                                 Threads::Threads)
  target_compile_options(pgstack_test_pch PRIVATE -O0)
  target_precompile_headers(pgstack_test_pch PRIVATE
    <gtest/gtest.h> <gmock/gmock.h> <nlohmann/json.hpp> <fmt/format.h> <fmt/chrono.h>
    <chrono> <filesystem> <functional> <map> <memory> <optional> <set> <string> <thread> <vector>)
endfunction()

# pgstack_cli_pch: the precompiled header of the command-line code (pgstack_use_cli_pch):
# CLI11 is header-only and most of a command file's compile time (10 to 16 s each on 2
# cores, 30 files), so it is compiled once. Same flags as the targets reusing it.
function(pgstack_add_cli_pch)
  add_library(pgstack_cli_pch OBJECT ${PROJECT_SOURCE_DIR}/pgstack/cli/cli_pch.cc)
  target_link_libraries(pgstack_cli_pch PRIVATE CLI11::CLI11 nlohmann_json::nlohmann_json fmt::fmt)
  target_precompile_headers(pgstack_cli_pch PRIVATE
    <CLI/CLI.hpp> <nlohmann/json.hpp> <fmt/format.h> <chrono> <filesystem> <functional> <map> <memory> <optional>
    <string> <vector>)
endfunction()

function(pgstack_use_cli_pch target)
  target_precompile_headers(${target} REUSE_FROM pgstack_cli_pch)
endfunction()

# ---- Installing libpgstack (docs/architecture.md, "Libraries and targets") ----------
# `cmake --install build --prefix P` puts the public headers under P/include/pgstack/,
# the static libraries under P/lib and P/lib/cmake/pgstack/pgstackConfig.cmake, whose
# targets are pgstack::<folder> (pgstack::pg, pgstack::kv, ...) and the umbrella
# pgstack::pgstack. examples/ is built against it by examples_install_test.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)
set(PGSTACK_CMAKE_INSTALL_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/pgstack)

# pgstack_export_library(<target> [NAME <name>])
# Installs a library into the exported set as pgstack::<name> (default: the target's
# name without its pgstack_ prefix), with the same name as an alias in this build.
function(pgstack_export_library target)
  cmake_parse_arguments(ARG "" "NAME" "" ${ARGN})
  if(NOT ARG_NAME)
    string(REGEX REPLACE "^pgstack_" "" ARG_NAME ${target})
  endif()
  set_target_properties(${target} PROPERTIES EXPORT_NAME ${ARG_NAME})
  add_library(pgstack::${ARG_NAME} ALIAS ${target})
  get_target_property(type ${target} TYPE)
  if(type STREQUAL "INTERFACE_LIBRARY")
    set(scope INTERFACE)
  else()
    set(scope PUBLIC)
  endif()
  # The include root: the repository in this build, <prefix>/include once installed.
  target_include_directories(${target} ${scope} $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}>
                                                $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
  # The headers are C++20 (std::stop_token, designated initializers): a consumer gets it.
  target_compile_features(${target} ${scope} cxx_std_20)
  install(TARGETS ${target} EXPORT pgstackTargets ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
  set_property(GLOBAL APPEND PROPERTY PGSTACK_EXPORTED_LIBRARIES ${target})
endfunction()

# pgstack_public_headers(<target> <header> ...)
# The headers of a folder that make up the API an application uses, installed under
# include/<folder> (include/pgstack/kv/store.h: the same #include "pgstack/kv/store.h"
# as in this tree), and the folder's library exported (pgstack_export_library). What is
# not listed (internals, tests, fixtures, CLI and ops code) is not installed; every
# installed header must compile alone against the installed tree (examples_install_test).
function(pgstack_public_headers target)
  file(RELATIVE_PATH folder ${PROJECT_SOURCE_DIR} ${CMAKE_CURRENT_SOURCE_DIR})
  foreach(header IN LISTS ARGN)
    if(NOT EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/${header})
      message(FATAL_ERROR "pgstack_public_headers(${target}): no ${folder}/${header}")
    endif()
  endforeach()
  # Each at its own path below the folder (internal/x.h stays internal/x.h), so the
  # installed includes read as in the tree.
  foreach(header IN LISTS ARGN)
    get_filename_component(subdir ${header} DIRECTORY)
    install(FILES ${header} DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/${folder}/${subdir})
  endforeach()
  pgstack_export_library(${target})
endfunction()

# Called last by the top CMakeLists.txt: the umbrella pgstack::pgstack (every exported
# library: the driver, schema and the embedded SQL modules, every capability and their
# registry), the export file and pgstackConfig.cmake / pgstackConfigVersion.cmake.
function(pgstack_install_package)
  get_property(libraries GLOBAL PROPERTY PGSTACK_EXPORTED_LIBRARIES)
  # The executable is called pgstack, so the umbrella's own name is pgstack_library.
  add_library(pgstack_library INTERFACE)
  target_link_libraries(pgstack_library INTERFACE ${libraries})
  pgstack_export_library(pgstack_library NAME pgstack)
  install(EXPORT pgstackTargets NAMESPACE pgstack:: DESTINATION ${PGSTACK_CMAKE_INSTALL_DIR})
  configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/pgstackConfig.cmake.in
                                ${CMAKE_BINARY_DIR}/pgstackConfig.cmake
                                INSTALL_DESTINATION ${PGSTACK_CMAKE_INSTALL_DIR})
  # 0.x: a minor version may change the API, so only the same minor version matches.
  write_basic_package_version_file(${CMAKE_BINARY_DIR}/pgstackConfigVersion.cmake
                                   VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
  install(FILES ${CMAKE_BINARY_DIR}/pgstackConfig.cmake ${CMAKE_BINARY_DIR}/pgstackConfigVersion.cmake
                ${PROJECT_SOURCE_DIR}/cmake/FindPgQuery.cmake
          DESTINATION ${PGSTACK_CMAKE_INSTALL_DIR})
endfunction()
