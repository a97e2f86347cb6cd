#include "pgstack/cluster/pg_hba.h"

#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "pgstack/pg/errors.h"
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
  const auto text = pg_hba_text();
  {
    std::ifstream in(file);
    std::stringstream ss;
    ss << in.rdbuf();
    if (in && ss.str() == text) return false;
  }
  const auto tmp = file.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << text;
    if (!out) throw Error(fmt::format("cannot write {}; check the folder's permissions and free space", tmp));
  }
  sys::give_to_server_user(tmp);
  fs::rename(tmp, file);
  return true;
}

}  // namespace pgstack::cluster
