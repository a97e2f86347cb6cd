// A server's pg_hba.conf and pg_ident.conf, written whole by pgstack: the operator
// (database superuser `postgres`) and replication come in over the Unix socket by peer
// authentication, mapped from the OS users allowed to be the operator (the server user
// and root); every other login uses SCRAM; TCP only over TLS. See docs/stack.md.
//
//   if (pgstack::stack::write_pg_hba(layout.primary().dir)) server.reload();
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace pgstack::stack {

// The name of the user map in pg_ident.conf that pg_hba.conf's peer lines use.
inline constexpr const char* kOperatorMap = "pgstack";

// pg_hba.conf's text, header comment included.
std::string pg_hba_text();

// The OS users peer authentication lets in as the database superuser: the user the
// servers run as, and root (who can read the data folder anyway).
std::vector<std::string> operator_os_users();

// pg_ident.conf's text: each of os_users mapped to the superuser under kOperatorMap.
std::string pg_ident_text(const std::vector<std::string>& os_users);

// Writes <data_dir>/pg_hba.conf and pg_ident.conf when they differ from the texts
// above (for operator_os_users()); true when either changed.
bool write_pg_hba(const std::filesystem::path& data_dir);

}  // namespace pgstack::stack
