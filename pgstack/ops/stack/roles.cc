#include "pgstack/ops/stack/roles.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <sstream>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <openssl/rand.h>

#include "pgstack/pg/errors.h"
#include "pgstack/base/files.h"

namespace pgstack::stack {

namespace fs = std::filesystem;

const std::vector<StackRole>& stack_roles() {
  static const std::vector<StackRole> kRoles = {
      {.name = "readwrite"},
      {.name = "readonly"},
      {.name = "app",
       .login = true,
       .member_of = {"readwrite"},
       .settings = {{"statement_timeout", "30s"}, {"idle_in_transaction_session_timeout", "60s"}}},
      {.name = "migrations",
       .login = true,
       .member_of = {"readwrite"},
       // A migration waits for locks briefly rather than queueing every query behind it.
       .settings = {{"lock_timeout", "5s"},
                    {"statement_timeout", "30min"},
                    {"idle_in_transaction_session_timeout", "10min"}}},
      {.name = "app_reader",
       .login = true,
       .member_of = {"readonly"},
       .settings = {{"statement_timeout", "30s"},
                    {"idle_in_transaction_session_timeout", "60s"},
                    {"default_transaction_read_only", "on"}}},
  };
  return kRoles;
}

std::vector<std::string> password_roles() {
  std::vector<std::string> out = {kSuperuser};
  for (const auto& r : stack_roles())
    if (r.login) out.push_back(r.name);
  return out;
}

std::string random_password() {
  unsigned char bytes[24];
  if (RAND_bytes(bytes, sizeof bytes) != 1) throw Error("OpenSSL could not generate random bytes for a password");
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  for (std::size_t i = 0; i < sizeof bytes; i += 3) {
    unsigned v = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
    for (int shift = 18; shift >= 0; shift -= 6) out += kAlphabet[(v >> shift) & 63];
  }
  return out;
}

std::map<std::string, std::string> read_credentials(const fs::path& file) {
  std::map<std::string, std::string> out;
  std::istringstream in(pgstack::read_text_file(file.string()));
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    // host:port:database:user:password; ours never hold ':' or '\'.
    std::vector<std::string> fields;
    std::stringstream ss(line);
    for (std::string f; std::getline(ss, f, ':');) fields.push_back(f);
    if (fields.size() == 5 && !fields[3].empty() && !fields[4].empty()) out[fields[3]] = fields[4];
  }
  return out;
}

void write_credentials(const fs::path& file, const std::map<std::string, std::string>& passwords) {
  std::string text =
      "# pgstack credentials (docs/stack.md): libpq passfile format, host:port:database:role:password.\n"
      "# The stack's DSNs name this file (passfile=...); keep it private (mode 0600).\n";
  for (const auto& role : password_roles())
    if (auto it = passwords.find(role); it != passwords.end()) text += fmt::format("*:*:*:{}:{}\n", role, it->second);
  // Created 0600 from the start: the passwords are never readable by others, not even briefly.
  pgstack::replace_file_if_changed(file.string(), text, 0600);
}

namespace {

bool role_exists(pg::Connection& conn, const std::string& role) {
  return conn.query_optional<std::int32_t>("select 1 from pg_roles where rolname = $1", role).has_value();
}

// ALTER ROLE takes no parameters: the server itself quotes the role (%I) and the
// password (%L), so no value is ever pasted into SQL text by us.
void set_password(pg::Connection& conn, const std::string& role, const std::string& password) {
  auto sql = conn.query_value<std::string>("select format('alter role %I with password %L', $1::text, $2::text)", role,
                                           password);
  conn.execute_script("set password_encryption = 'scram-sha-256'; " + sql);
}

bool privileges_in_place(pg::Connection& conn) {
  return conn.query_value<bool>(R"(
    select has_schema_privilege('migrations', 'public', 'CREATE')
       and not has_schema_privilege('app', 'public', 'CREATE')
       and not has_schema_privilege('app_reader', 'public', 'CREATE')
       and has_schema_privilege('readwrite', 'public', 'USAGE')
       and has_schema_privilege('readonly', 'public', 'USAGE')
       and exists (select 1 from pg_default_acl d join pg_roles r on r.oid = d.defaclrole
                   where r.rolname = 'migrations' and d.defaclobjtype = 'r'))");
}

std::string privileges_script(pg::Connection& conn, const std::string& database) {
  std::string db = conn.quote_identifier(database);
  std::string sql = fmt::format(R"(
    revoke create on schema public from public;
    grant connect, temporary on database {0} to readwrite, readonly;
    grant usage on schema public to readwrite, readonly;
    grant create on schema public to migrations;
    grant select, insert, update, delete on all tables in schema public to readwrite;
    grant usage, select, update on all sequences in schema public to readwrite;
    grant select on all tables in schema public to readonly;
    grant select on all sequences in schema public to readonly;
    alter default privileges for role migrations in schema public
      grant select, insert, update, delete on tables to readwrite;
    alter default privileges for role migrations in schema public
      grant usage, select, update on sequences to readwrite;
    alter default privileges for role migrations in schema public grant select on tables to readonly;
    alter default privileges for role migrations in schema public grant select on sequences to readonly;
  )", db);
  // pgstack's own schema is not granted here: each module's migrations say who may
  // use what (schema/sql/003_access.sql and the modules' NNN_access.sql).
  return sql;
}

}  // namespace

std::vector<std::string> ensure_roles(pg::Connection& conn, const ClusterLayout& layout) {
  std::vector<std::string> actions;
  const auto file = layout.credentials_file();
  auto passwords = read_credentials(file);
  std::vector<std::string> fresh;  // roles given a new password
  for (const auto& role : password_roles()) {
    if (passwords.count(role)) continue;
    passwords[role] = random_password();
    fresh.push_back(role);
  }
  if (!fresh.empty()) {
    // Written before the server learns them: a failure in between leaves a password we
    // can set again, never one we lost.
    write_credentials(file, passwords);
    actions.push_back(fmt::format("wrote {} (passwords for {})", file.string(), fmt::join(fresh, ", ")));
  } else if (struct stat st{}; ::stat(file.c_str(), &st) == 0 && (st.st_mode & 0077) != 0) {
    ::chmod(file.c_str(), 0600);
    actions.push_back(fmt::format("made {} private (mode 0600)", file.string()));
  }
  auto is_fresh = [&](const std::string& r) { return std::find(fresh.begin(), fresh.end(), r) != fresh.end(); };

  for (const auto& role : stack_roles()) {
    const auto name = conn.quote_identifier(role.name);
    bool created = false;
    if (!role_exists(conn, role.name)) {
      conn.execute_script(fmt::format("create role {} {}", name, role.login ? "login" : "nologin"));
      actions.push_back(fmt::format("created role {}", role.name));
      created = true;
    }
    for (const auto& group : role.member_of) {
      if (conn.query_value<bool>("select pg_has_role($1, $2, 'member')", role.name, group)) continue;
      conn.execute_script(fmt::format("grant {} to {}", conn.quote_identifier(group), name));
      if (!created) actions.push_back(fmt::format("granted {} to {}", group, role.name));
    }
    std::vector<std::string> set;
    for (const auto& [key, value] : role.settings) {
      auto entry = key + "=" + value;
      bool has = conn.query_optional<std::int32_t>(
                         "select 1 from pg_db_role_setting s join pg_roles r on r.oid = s.setrole "
                         "where r.rolname = $1 and s.setdatabase = 0 and $2 = any(s.setconfig)",
                         role.name, entry)
                     .has_value();
      if (has) continue;
      // Settings and values are pgstack's constants; the value still goes through %L.
      conn.execute_script(conn.query_value<std::string>("select format('alter role %I set %s = %L', $1::text, $2::text, $3::text)",
                                                        role.name, key, value));
      set.push_back(entry);
    }
    if (!set.empty()) actions.push_back(fmt::format("set {} on role {}", fmt::join(set, ", "), role.name));
  }

  for (const auto& role : password_roles()) {
    bool has_password =
        conn.query_value<bool>("select rolpassword is not null from pg_authid where rolname = $1", role);
    if (has_password && !is_fresh(role)) continue;
    set_password(conn, role, passwords[role]);
    actions.push_back(fmt::format("set the password of role {} (scram-sha-256)", role));
  }

  if (!privileges_in_place(conn)) {
    conn.execute_script(privileges_script(conn, layout.database));
    actions.push_back(fmt::format("granted privileges in database {} (public: CREATE for migrations only; default "
                                  "privileges for readwrite and readonly)",
                                  layout.database));
  }
  return actions;
}

}  // namespace pgstack::stack
