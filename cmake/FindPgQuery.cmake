# FindPgQuery: libpg_query (PostgreSQL's parser as a library; Debian's libpg-query-dev
# ships only the static archive), as the imported target PgQuery::pg_query.
# pgstack_schema links it privately (the migration linter and script splitter,
# schema/sql_script.cc); since static libraries carry their link dependencies,
# pgstackConfig.cmake finds it again for an application with this same module.
find_path(PgQuery_INCLUDE_DIR NAMES pg_query.h)
find_library(PgQuery_LIBRARY NAMES libpg_query.a pg_query)
include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(PgQuery REQUIRED_VARS PgQuery_LIBRARY PgQuery_INCLUDE_DIR)
if(PgQuery_FOUND AND NOT TARGET PgQuery::pg_query)
  add_library(PgQuery::pg_query UNKNOWN IMPORTED)
  set_target_properties(PgQuery::pg_query PROPERTIES IMPORTED_LOCATION ${PgQuery_LIBRARY}
                                                     INTERFACE_INCLUDE_DIRECTORIES ${PgQuery_INCLUDE_DIR})
endif()
mark_as_advanced(PgQuery_INCLUDE_DIR PgQuery_LIBRARY)
