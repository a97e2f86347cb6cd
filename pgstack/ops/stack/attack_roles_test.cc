// The stack as each of its roles would attack it (issue 14, items 2 and 3): no role
// becomes superuser through pgstack's functions, the read-only role writes nothing, and
// no application role rewrites pgstack's records. One stack for the binary
// (security_fixture.h).
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "pgstack/ops/stack/testing/security_fixture.h"
#include "pgstack/ops/stack/security_probe.h"
#include "pgstack/pg/connection.h"
#include "pgstack/schema/migration_runner.h"

namespace {

using pgstack::pg::Connection;
using security_probe::sqlstate_of;

bool is_superuser(const std::string& role) {
  Connection super(StackSecurityTest::layout().dsn());
  return super.query_value<bool>("select rolsuper from pg_roles where rolname = $1", role);
}

// Every pgstack function `role` may execute, with a call passing NULL for each argument.
std::vector<std::string> null_calls_executable_by(Connection& super, const std::string& role) {
  std::vector<std::string> calls;
  auto rows = super.query(
      "select format('select %s.%I(%s)', n.nspname, p.proname, "
      "              (select string_agg('NULL::' || format_type(t, NULL), ', ') from unnest(p.proargtypes) t)) "
      "from pg_proc p join pg_namespace n on n.oid = p.pronamespace "
      "where n.nspname = 'pgstack' and p.prokind = 'f' and p.prorettype <> 'trigger'::regtype "
      "  and has_function_privilege($1, p.oid, 'EXECUTE') order by 1",
      role);
  for (const auto& row : rows) calls.push_back(row.get<std::string>(0));
  return calls;
}

// The issue's first attack: `migrations` may CREATE in public (the reference baseline
// says so), plants functions that an owner's function would find on a path with public,
// registers a view for the owner's housekeeping to refresh, and has `app` run it.
TEST_F(StackSecurityTest, MigrationsCannotBecomeSuperuserThroughPlantedFunctions) {
  Connection migrations(layout().role_dsn("migrations"));
  migrations.execute_script(R"sql(
    create function public.format(text, text, regclass) returns text language plpgsql as $$
      begin alter role migrations superuser; return 'select 1'; end $$;
    create function public.format(text, text, text) returns text language plpgsql as $$
      begin alter role migrations superuser; return 'select 1'; end $$;
    create function public.format(text, text, text, text) returns text language plpgsql as $$
      begin alter role migrations superuser; return 'select 1'; end $$;
    create function public.clock_timestamp(integer default 0) returns timestamptz language plpgsql as $$
      begin alter role migrations superuser; return now(); end $$;
    create function public.quote_ident(text) returns text language plpgsql as $$
      begin alter role migrations superuser; return $1; end $$;
    create materialized view public.planted_mv as select 1 as x;
    select pgstack.register_materialized_view('public.planted_mv', interval '1 second');
  )sql");
  // The registry and the task list are the owner's: no way around the function.
  migrations.execute_script("begin");
  EXPECT_EQ(sqlstate_of(migrations, "insert into pgstack.cache_views (view, every) values ('pg_class', '1s')"), "42501");
  EXPECT_EQ(sqlstate_of(migrations, "select pgstack.register_maintenance_task('evil', 'public.quote_ident(text)', '1s')"),
            "42501");
  EXPECT_EQ(sqlstate_of(migrations, "update pgstack.maintenance_tasks set next_run_at = now()"), "42501");
  migrations.execute_script("rollback");

  Connection super(layout().dsn());
  super.execute_script("update pgstack.maintenance_tasks set next_run_at = now()");
  Connection app(layout().role_dsn("app"));
  for (int i = 0; i < 3; ++i) app.query("select * from pgstack.maintain()");
  EXPECT_FALSE(is_superuser("migrations"));
  // The attack's path was really taken: the owner's housekeeping refreshed the view.
  EXPECT_TRUE(super.query_value<bool>(
      "select last_refreshed_at is not null and last_error is null from pgstack.cache_views "
      "where view = 'public.planted_mv'::regclass"));
  // A view someone else owns is not theirs to register.
  migrations.execute_script("create materialized view public.not_apps as select 2 as y");
  app.execute_script("begin");
  EXPECT_EQ(sqlstate_of(app, "select pgstack.register_materialized_view('public.not_apps', interval '1 minute')"), "42501");
  app.execute_script("rollback");
  migrations.execute_script(
      "drop materialized view public.planted_mv, public.not_apps; "
      "drop function public.format(text, text, regclass), public.format(text, text, text), "
      "public.format(text, text, text, text), public.clock_timestamp(integer), public.quote_ident(text)");
}

// The second: `app` may create nothing anywhere but temporary objects, which are found
// first on a path that does not list pg_temp. Shadow the catalogs the owner's functions
// read, then call every function app may call; none may run the shadow.
TEST_F(StackSecurityTest, AppCannotShadowTheCatalogWithTemporaryObjects) {
  Connection super(layout().dsn());
  super.execute_script("update pgstack.maintenance_tasks set next_run_at = now()");
  Connection app(layout().role_dsn("app"));
  app.execute_script(R"sql(
    create function pg_temp.evil() returns boolean language plpgsql as $$
      begin alter role app superuser; return true; end $$;
  )sql");
  for (const char* catalog : {"pg_class", "pg_proc", "pg_namespace", "pg_roles", "pg_index", "pg_inherits",
                              "pg_depend", "pg_type", "pg_settings", "pg_stat_activity", "pg_locks"})
    app.execute_script(fmt::format("create temp view {0} as select * from pg_catalog.{0} where pg_temp.evil()", catalog));
  app.execute_script(
      "create temp view maintenance_tasks as select * from pgstack.maintenance_tasks where pg_temp.evil(); "
      "create temp view job_queues as select * from pgstack.job_queues where pg_temp.evil(); "
      "create temp view kv_namespaces as select * from pgstack.kv_namespaces where pg_temp.evil()");
  auto calls = null_calls_executable_by(super, "app");
  ASSERT_GT(calls.size(), 50u);
  app.execute_script("begin");
  for (const auto& call : calls) (void)sqlstate_of(app, call);
  (void)sqlstate_of(app, "select * from pgstack.maintain()");
  app.execute_script("commit");
  EXPECT_FALSE(is_superuser("app"));
}

// The read-only role: `set default_transaction_read_only = off` gets it past its
// role's setting to its privileges, which must hold on their own (jobs_maintain() ran
// as the owner and was executable by PUBLIC). It calls every pgstack function it may
// call, and no pgstack table may have changed in its transaction.
TEST_F(StackSecurityTest, TheReadOnlyRoleWritesNothingThroughAnyFunction) {
  Connection super(layout().dsn());
  Connection reader(layout().role_dsn("app_reader"));
  reader.execute_script("set default_transaction_read_only = off");
  reader.execute_script("begin");
  EXPECT_EQ(sqlstate_of(reader, "select pgstack.jobs_maintain()"), "42501");
  EXPECT_EQ(sqlstate_of(reader, "select * from pgstack.maintain()"), "42501");
  EXPECT_EQ(sqlstate_of(reader, "select pgstack.job_enqueue('x')"), "42501");
  EXPECT_EQ(sqlstate_of(reader, "select pgstack.kv_set('default', 'k', 'v'::text)"), "42501");
  auto calls = null_calls_executable_by(super, "app_reader");
  ASSERT_GT(calls.size(), 10u);
  for (const auto& call : calls) (void)sqlstate_of(reader, call);
  EXPECT_EQ(reader.query_value<std::int64_t>(
                "select coalesce(sum(n_tup_ins + n_tup_upd + n_tup_del), 0)::bigint from pg_stat_xact_user_tables "
                "where schemaname = 'pgstack'"),
            0);
  reader.execute_script("rollback");
}

// Application roles read pgstack's tables and change them only through its functions:
// every table, every kind of write, as each role. kv's keys and locks are the one
// exception, by design: they are the application's data (docs/stack.md#security).
TEST_F(StackSecurityTest, ApplicationRolesCannotRewritePgstacksRecords) {
  Connection super(layout().dsn());
  auto tables = super.query(
      "select c.oid::regclass::text, c.relname::text, "
      "       (select a.attname::text from pg_attribute a where a.attrelid = c.oid and a.attnum = 1), c.relispartition "
      "from pg_class c "
      "where c.relnamespace = 'pgstack'::regnamespace and c.relkind in ('r', 'p') order by 1");
  ASSERT_GT(tables.rows(), 25u);
  for (const char* role : {"app", "migrations", "app_reader"}) {
    Connection conn(layout().role_dsn(role));
    conn.execute_script("set default_transaction_read_only = off");
    conn.execute_script("begin");
    for (const auto& row : tables) {
      const auto table = row.get<std::string>(0);
      const auto name = row.get<std::string>(1);
      const bool app_data = (name == "kv_entries" || name == "kv_locks") && std::string(role) != "app_reader";
      for (const auto& write : {fmt::format("delete from {} where false", table),
                                fmt::format("insert into {} default values", table),
                                fmt::format("update {} set {} = default where false", table, row.get<std::string>(2))}) {
        auto state = sqlstate_of(conn, write);
        if (app_data)
          EXPECT_NE(state, "42501") << role << ": " << write;
        else
          EXPECT_EQ(state, "42501") << role << ": " << write << " was not refused";
      }
      EXPECT_EQ(sqlstate_of(conn, "truncate " + table), "42501") << role << " truncated " << table;
      // Partitions are read through their parent, like the tables' own partitions are.
      if (!row.get<bool>(3)) {
        EXPECT_EQ(sqlstate_of(conn, "select count(*) from " + table), "") << role << " cannot read " << table;
      }
    }
    conn.execute_script("rollback");
  }
}

// The migration ledger: `migrations` records its own folder's files (through
// pgstack.record_migration), never one of pgstack's modules, and a row of pgstack's
// modules that its owner did not write stops an install.
TEST_F(StackSecurityTest, TheMigrationLedgerTakesApplicationModulesOnly) {
  Connection migrations(layout().role_dsn("migrations"));
  pgstack::schema::MigrationRunner runner(migrations);
  pgstack::schema::Module app{.name = "app_security_test"};
  app.migrations.push_back(pgstack::schema::make_migration("app_security_test", "001_t.sql", "001_t.sql",
                                                           "create table public.security_test_t (id int);"));
  EXPECT_EQ(runner.apply({app}).applied.size(), 1u);
  Connection super(layout().dsn());
  EXPECT_EQ(super.query_value<std::string>(
                "select applied_by from pgstack.schema_migrations where module = 'app_security_test'"),
            "migrations");
  migrations.execute_script("begin");
  EXPECT_EQ(sqlstate_of(migrations, "select pgstack.record_migration('jobs', 999, '999_x.sql', 'x', 0)"), "42501");
  EXPECT_EQ(sqlstate_of(migrations, "delete from pgstack.schema_migrations"), "42501");
  EXPECT_EQ(sqlstate_of(migrations, "update pgstack.schema_migrations set checksum = 'x'"), "42501");
  migrations.execute_script("rollback");

  // A row planted before the ledger was protected (written here by the owner, as
  // another role would have): the install refuses instead of skipping the migration.
  super.execute_script(
      "insert into pgstack.schema_migrations (module, version, name, checksum, execution_ms, applied_by) "
      "values ('kv', 999, '999_planted.sql', 'x', 0, 'migrations')");
  pgstack::schema::MigrationRunner owner(super);
  try {
    owner.apply(pgstack::schema::builtin_module_list());
    ADD_FAILURE() << "a planted ledger row was accepted";
  } catch (const pgstack::schema::MigrationError& e) {
    EXPECT_NE(std::string(e.what()).find("kv/999_planted.sql (recorded by migrations)"), std::string::npos) << e.what();
  }
  super.execute_script(
      "delete from pgstack.schema_migrations where module in ('kv', 'app_security_test') and version in (1, 999) "
      "and applied_by = 'migrations'; drop table public.security_test_t");
}

}  // namespace
