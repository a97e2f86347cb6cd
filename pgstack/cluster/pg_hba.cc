#include "pgstack/cluster/pg_hba.h"

#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "pgstack/pg/errors.h"
#include "pgstack/sys/files.h"
#include "pgstack/sys/process.h"

namespace pgstack::cluster {

namespace fs = std::filesystem;

std::string pg_hba_text() {
  return R"(# Managed by pgstack: `pgstack up` rewrites this file and reloads the server
# (docs/stack.md). Edits here are lost; the first matching line wins.
#
# The operator (postgres) and streaming replication come in over the Unix socket in the
# stack's run folder without a password: only local users who can enter it reach it.
# Every other login uses SCRAM; TCP is accepted over TLS only.
#
# TYPE    DATABASE     USER       ADDRESS        METHOD
local     all          postgres                  trust
local     replication  all                       trust
local     all          all                       scram-sha-256
hostssl   all          all        127.0.0.1/32   scram-sha-256
hostssl   all          all        ::1/128        scram-sha-256
hostnossl all          all        0.0.0.0/0      reject
hostnossl all          all        ::/0           reject
)";
}

bool write_pg_hba(const fs::path& data_dir) {
  const auto file = data_dir / "pg_hba.conf";
  // 0600, as initdb makes it: the file is the server user's alone.
  if (!sys::replace_file_if_changed(file.string(), pg_hba_text(), 0600)) return false;
  sys::give_to_server_user(file.string());
  return true;
}

}  // namespace pgstack::cluster
