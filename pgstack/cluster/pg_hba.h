// The primary's pg_hba.conf, written whole by pgstack: the operator (postgres) and
// replication over the Unix socket without a password, every other login with SCRAM,
// TCP only over TLS. See docs/stack.md.
//
//   if (pgstack::cluster::write_pg_hba(layout.primary().dir)) server.reload();
#pragma once

#include <filesystem>
#include <string>

namespace pgstack::cluster {

// The file's text, header comment included.
std::string pg_hba_text();

// Writes <data_dir>/pg_hba.conf when it differs from pg_hba_text(); true when it did.
bool write_pg_hba(const std::filesystem::path& data_dir);

}  // namespace pgstack::cluster
