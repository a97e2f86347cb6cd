// The access policy read off the catalog of a real stack, so that no new function or
// table can slip past it (issue 14, items 2, 3 and 14): every SECURITY DEFINER function
// in the database pins a search_path of schemas only their owner can write, pg_temp
// last, and is executable only by the roles that need it; every pgstack function pins
// its path (one named exception, inlined) and is never PUBLIC's; the read-only role can
// run nothing that writes as the owner; the SQL API names its parameters one way.
#include <string>

#include <gtest/gtest.h>

#include "pgstack/ops/stack/testing/security_fixture.h"
#include "pgstack/pg/connection.h"

namespace {

using pgstack::pg::Connection;

// The pinned path every pgstack function sets, and the schema-writability check applied
// to any function's path: no role but the function's owner (and superusers) may CREATE
// in a schema on it, and pg_temp comes last.
constexpr const char* kDefinerViolations = R"sql(
  with fn as (
    select p.oid, p.oid::regprocedure::text as name, p.proowner, p.proacl, p.provolatile,
           (select e.extname from pg_depend d join pg_extension e on e.oid = d.refobjid
             where d.classid = 'pg_proc'::regclass and d.objid = p.oid and d.deptype = 'e') as extension,
           (select substr(c, length('search_path=') + 1) from unnest(p.proconfig) c
             where c like 'search_path=%') as path
      from pg_proc p
     where p.prosecdef and p.pronamespace not in ('pg_catalog'::regnamespace, 'information_schema'::regnamespace)
  ), schemas as (
    select fn.oid, trim(both ' "' from s) as nsp, ord, count(*) over (partition by fn.oid) as n
      from fn, unnest(string_to_array(fn.path, ',')) with ordinality as u(s, ord)
  )
  select fn.name || ': ' || v.why
    from fn, lateral (
      select 'no search_path pinned' where fn.path is null
      union all
      select 'pg_temp is not last on its search_path' where fn.path is not null
         and not exists (select 1 from schemas s where s.oid = fn.oid and s.nsp = 'pg_temp' and s.ord = s.n)
      union all
      select format('role %s may create in schema %s on its path', r.rolname, s.nsp)
        from schemas s join pg_namespace n on n.nspname = s.nsp
        cross join pg_roles r
       where s.oid = fn.oid and s.nsp <> 'pg_temp' and not r.rolsuper and r.oid <> fn.proowner
         and r.rolname !~ '^pg_'
         and has_schema_privilege(r.oid, n.oid, 'CREATE')
      union all
      select format('schema %s on its path does not exist', s.nsp)
        from schemas s where s.oid = fn.oid and s.nsp not in ('pg_temp', '$user')
         and not exists (select 1 from pg_namespace n where n.nspname = s.nsp)
      union all
      -- Extensions' own functions keep their grants, as long as PUBLIC can only read.
      select 'executable by PUBLIC' where has_function_privilege('public', fn.oid, 'EXECUTE')
         and (fn.extension is null or fn.provolatile = 'v')
      union all
      -- The writing roles may run what their API needs; the reading roles only functions
      -- that cannot write (not VOLATILE: PostgreSQL refuses INSERT, UPDATE and DELETE
      -- in them), such as the health checks and readers that call internal helpers.
      select format('executable by %s', r.rolname)
        from pg_roles r
       where fn.extension is null and not r.rolsuper and r.oid <> fn.proowner and r.rolname !~ '^pg_'
         and r.rolname not in ('readwrite', 'app', 'migrations')
         and not (r.rolname in ('readonly', 'app_reader') and fn.provolatile <> 'v')
         and has_function_privilege(r.oid, fn.oid, 'EXECUTE')
    ) v(why)
   order by 1
)sql";

TEST_F(StackSecurityTest, EverySecurityDefinerFunctionPinsItsPathAndIsGrantedOnlyToWhoNeedsIt) {
  Connection super(layout().dsn());
  ASSERT_GT(super.query_value<std::int64_t>("select count(*) from pg_proc where prosecdef and "
                                            "pronamespace = 'pgstack'::regnamespace"),
            20);
  auto rows = super.query(kDefinerViolations);
  for (const auto& row : rows) ADD_FAILURE() << row.get<std::string>(0);
  EXPECT_EQ(rows.rows(), 0);

  // The check itself catches what it must: a definer function on a path with public.
  super.execute_script(
      "begin; create function pgstack.probe_definer() returns int language sql security definer "
      "set search_path = pg_catalog, pgstack, public as 'select 1'; "
      // ... and the reading role's limit: a function that may write, not one that reads.
      "create function pgstack.probe_writer() returns int language sql volatile security definer "
      "set search_path = pg_catalog, pgstack, pg_temp as 'select 1'; "
      "create function pgstack.probe_reader() returns int language sql stable security definer "
      "set search_path = pg_catalog, pgstack, pg_temp as 'select 1'; "
      "revoke all on function pgstack.probe_writer(), pgstack.probe_reader() from public; "
      "grant execute on function pgstack.probe_writer(), pgstack.probe_reader() to readonly");
  auto found = super.query(kDefinerViolations);
  super.execute_script("rollback");
  std::string text;
  for (const auto& row : found) text += row.get<std::string>(0) + "\n";
  EXPECT_NE(text.find("probe_definer(): pg_temp is not last"), std::string::npos) << text;
  EXPECT_NE(text.find("probe_definer(): role migrations may create in schema public"), std::string::npos) << text;
  EXPECT_NE(text.find("probe_definer(): executable by PUBLIC"), std::string::npos) << text;
  EXPECT_NE(text.find("probe_writer(): executable by readonly"), std::string::npos) << text;
  EXPECT_EQ(text.find("probe_reader()"), std::string::npos) << text;
}

TEST_F(StackSecurityTest, EveryPgstackFunctionPinsItsPathAndNoneIsPublic) {
  Connection super(layout().dsn());
  // kv_lookup is the one function left unpinned: the kv hot path inlines it into the
  // caller's query, which a SET clause would prevent. It runs as the caller, and its
  // body names only pgstack.kv_entries and built-ins of pg_catalog.
  auto rows = super.query(R"sql(
    select p.oid::regprocedure::text || ': ' || v.why
      from pg_proc p
      cross join lateral (
        select 'search_path not pinned to pg_catalog, pgstack, pg_temp'
         where not (coalesce(p.proconfig, '{}') @> array['search_path=pg_catalog, pgstack, pg_temp'])
           and p.oid <> 'pgstack.kv_lookup(text, text[])'::regprocedure
        union all
        select 'the unpinned exception must be an invoker SQL function'
         where p.oid = 'pgstack.kv_lookup(text, text[])'::regprocedure
           and (p.prosecdef or p.prolang <> (select oid from pg_language where lanname = 'sql'))
        union all
        select 'executable by PUBLIC' where has_function_privilege('public', p.oid, 'EXECUTE')
        union all
        select 'the read-only role may run it, and it writes as the owner'
         where p.prosecdef and p.provolatile = 'v' and has_function_privilege('readonly', p.oid, 'EXECUTE')
        union all
        select format('parameter %s: the SQL API names parameters without a p_ prefix', a)
          from unnest(p.proargnames) a where a like 'p\_%'
      ) v(why)
     where p.pronamespace = 'pgstack'::regnamespace
     order by 1)sql");
  for (const auto& row : rows) ADD_FAILURE() << row.get<std::string>(0);
  EXPECT_EQ(rows.rows(), 0);
  EXPECT_GT(super.query_value<std::int64_t>("select count(*) from pg_proc where pronamespace = 'pgstack'::regnamespace"),
            100);
}

TEST_F(StackSecurityTest, OnlyTheOwnerCreatesInSchemaPgstackAndItsTablesAreWrittenByFunctions) {
  Connection super(layout().dsn());
  auto rows = super.query(R"sql(
    select format('%s may create in schema pgstack', r.rolname) from pg_roles r
     where not r.rolsuper and r.rolname !~ '^pg_' and has_schema_privilege(r.oid, 'pgstack', 'CREATE')
    union all
    select format('%s may %s %s', r.rolname, w.priv, c.oid::regclass)
      from pg_class c
      cross join pg_roles r
      cross join unnest(array['INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER']) w(priv)
     where c.relnamespace = 'pgstack'::regnamespace and c.relkind in ('r', 'p', 'v', 'm', 'f')
       and not r.rolsuper and r.oid <> c.relowner and r.rolname !~ '^pg_'
       and has_table_privilege(r.oid, c.oid, w.priv)
       -- kv's keys and locks are the application's data (docs/stack.md#security).
       and not (c.oid in ('pgstack.kv_entries'::regclass, 'pgstack.kv_locks'::regclass)
                and w.priv in ('INSERT', 'UPDATE', 'DELETE') and pg_has_role(r.oid, 'readwrite', 'MEMBER'))
    union all
    select format('%s may use sequence %s', r.rolname, c.oid::regclass)
      from pg_class c cross join pg_roles r
     where c.relnamespace = 'pgstack'::regnamespace and c.relkind = 'S' and not r.rolsuper and r.oid <> c.relowner
       and r.rolname !~ '^pg_'
       and has_sequence_privilege(r.oid, c.oid, 'USAGE, UPDATE')
    order by 1)sql");
  for (const auto& row : rows) ADD_FAILURE() << row.get<std::string>(0);
  EXPECT_EQ(rows.rows(), 0);
}

}  // namespace
