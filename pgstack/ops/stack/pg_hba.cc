#include "pgstack/ops/stack/pg_hba.h"

#include <fmt/format.h>

#include "pgstack/ops/stack/layout.h"
#include "pgstack/base/files.h"
#include "pgstack/sys/process.h"

namespace pgstack::stack {

namespace fs = std::filesystem;

std::string pg_hba_text() {
  return fmt::format(R"(# Managed by pgstack: `pgstack up` rewrites this file and reloads the server
# (docs/stack.md). Edits here are lost; the first matching line wins.
#
# No login is trusted. The operator (postgres) and streaming replication come in over
# the Unix socket by peer authentication: the OS user must be one that map `{map}` in
# pg_ident.conf names (the user the servers run as, and root). The socket's folder is
# open to the stack's own user and group only. Every other login uses SCRAM; TCP is
# accepted over TLS only.
#
# TYPE    DATABASE     USER       ADDRESS        METHOD
local     all          {super}                   peer map={map}
local     replication  {super}                   peer map={map}
local     all          all                       scram-sha-256
hostssl   all          all        127.0.0.1/32   scram-sha-256
hostssl   all          all        ::1/128        scram-sha-256
hostnossl all          all        0.0.0.0/0      reject
hostnossl all          all        ::/0           reject
)",
                     fmt::arg("map", kOperatorMap), fmt::arg("super", kSuperuser));
}

std::vector<std::string> operator_os_users() {
  std::vector<std::string> users = {sys::server_os_user()};
  if (users.front() != "root") users.push_back("root");
  return users;
}

std::string pg_ident_text(const std::vector<std::string>& os_users) {
  std::string text = fmt::format(
      "# Managed by pgstack: `pgstack up` rewrites this file (docs/stack.md). Edits here are lost.\n"
      "# The OS users that peer authentication lets in as the database superuser.\n"
      "# MAPNAME  SYSTEM-USERNAME  PG-USERNAME\n");
  for (const auto& user : os_users) text += fmt::format("{}  {}  {}\n", kOperatorMap, user, kSuperuser);
  return text;
}

bool write_pg_hba(const fs::path& data_dir) {
  bool changed = false;
  // 0600, as initdb makes them: the files are the server user's alone.
  for (const auto& [name, text] : {std::pair{"pg_hba.conf", pg_hba_text()},
                                   std::pair{"pg_ident.conf", pg_ident_text(operator_os_users())}}) {
    const auto file = (data_dir / name).string();
    if (!pgstack::replace_file_if_changed(file, text, 0600)) continue;
    sys::give_to_server_user(file);
    changed = true;
  }
  return changed;
}

}  // namespace pgstack::stack
