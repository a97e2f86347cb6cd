# Build helpers shared by every capability folder.

# pgstack_add_test(<name> SOURCES a_test.cc ... LIBS lib ... [OWN_MAIN] [ONE_PROCESS] [TIMEOUT s])
# One GoogleTest binary per folder; each test case is registered with ctest on its own
# so `ctest -j` spreads them over the cores and a failure names the case.
# ONE_PROCESS registers the binary as a single ctest instead: for suites whose fixture
# is a whole stack (SetUpTestSuite), built once rather than once per case; gtest's
# output still names the failing case.
function(pgstack_add_test name)
  cmake_parse_arguments(ARG "OWN_MAIN;ONE_PROCESS" "TIMEOUT" "SOURCES;LIBS" ${ARGN})
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
endfunction()

# pgstack_test_pch: the precompiled header of every test binary (pgstack_add_test), made
# once: GoogleTest, GoogleMock, nlohmann/json and fmt are most of a test file's compile
# time. Its flags match the tests' (-O0, the same libraries' definitions) so GCC can use it.
function(pgstack_add_test_pch)
  add_library(pgstack_test_pch OBJECT ${PROJECT_SOURCE_DIR}/pgstack/testing/test_pch.cc)
  target_link_libraries(pgstack_test_pch PRIVATE GTest::gtest GTest::gmock nlohmann_json::nlohmann_json fmt::fmt
                                                 Threads::Threads)
  target_compile_options(pgstack_test_pch PRIVATE -O0)
  target_precompile_headers(pgstack_test_pch PRIVATE
    <gtest/gtest.h> <gmock/gmock.h> <nlohmann/json.hpp> <fmt/format.h> <fmt/chrono.h>
    <chrono> <filesystem> <functional> <map> <memory> <optional> <set> <string> <thread> <vector>)
endfunction()
