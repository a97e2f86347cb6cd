// The stack's backups with pgBackRest: one stanza (`pgstack`) for the primary, WAL
// archived continuously (archive_command = pgbackrest archive-push) and base backups
// (full, differential, incremental) in a repository: a local folder (.pgstack/backups)
// by default, S3-compatible storage when the layout says so. docs/stack.md, "Backups
// and WAL archiving", has the retention policy and how to restore.
//
//   for (auto& line : pgstack::stack::ensure_backups(layout)) std::cout << line << "\n";
//   auto diff = pgstack::stack::run_backup(layout, pgstack::stack::BackupType::diff);
//   pgstack::stack::restore_to(layout, "/tmp/drill");   // then start a postgres on it
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pgstack/pg/types.h"
#include "pgstack/ops/tune/tune.h"

// layout.h includes this header (a ClusterLayout carries its BackupRepository), so the
// types below are only declared here.
namespace pgstack::pg {
class Connection;
}

namespace pgstack::stack {

struct ClusterLayout;
struct Component;

inline constexpr const char* kStanza = "pgstack";
// Retention (docs/stack.md): full backups by age in days; differentials by count,
// because pgBackRest has no time-based retention for them. Seven differentials are a
// week of them when one is taken a day.
inline constexpr int kRetentionFullDays = 28;
inline constexpr int kRetentionDiffCount = 7;

// Where backups and archived WAL go. The default is a folder inside the stack
// (<dir>/backups). An S3 repository (AWS, MinIO, Ceph...) keeps them off the machine;
// pgstack.toml will fill these fields (not parsed yet). The S3 path is not exercised by
// the tests (no object store here).
struct BackupRepository {
  std::string type = "posix";  // "posix" (a folder) or "s3"
  // posix: the folder (empty: <dir>/backups); s3: the prefix in the bucket (empty: /pgstack).
  std::filesystem::path path;
  std::string s3_bucket;
  std::string s3_endpoint;  // s3.amazonaws.com, or minio.example:9000
  std::string s3_region;    // us-east-1; MinIO accepts any
  std::string s3_key;
  std::string s3_key_secret;  // written only to pgbackrest.conf, mode 0600
  std::string s3_uri_style = "host";  // "host" (bucket.endpoint) or "path" (endpoint/bucket: MinIO)
  bool s3_verify_tls = true;
};

enum class BackupType { full, diff, incr };
const char* to_string(BackupType type);
std::optional<BackupType> parse_backup_type(std::string_view text);

struct BackupInfo {
  std::string label;  // 20261130-101500F, 20261130-101500F_20261130-120000D
  BackupType type = BackupType::full;
  std::string prior;  // the backup a diff or incr builds on; empty for a full
  std::chrono::system_clock::time_point start;
  std::chrono::system_clock::time_point stop;
  std::int64_t size = 0;        // the database as restored, bytes
  std::int64_t repo_size = 0;   // the repository bytes a restore reads (compressed), with those of the backups it builds on
  std::int64_t repo_delta = 0;  // what this backup itself added to the repository (compressed)
  std::string wal_start;       // the first and last WAL segments a restore needs
  std::string wal_stop;
  double seconds() const { return std::chrono::duration<double>(stop - start).count(); }
};

// pg_stat_archiver: how archive_command fares. Counters since the server's statistics
// were last reset.
struct ArchiveStatus {
  std::int64_t archived_count = 0;
  std::string last_archived_wal;  // empty: none yet
  std::optional<pg::Timestamp> last_archived_time;
  std::int64_t failed_count = 0;
  std::string last_failed_wal;
  std::optional<pg::Timestamp> last_failed_time;
};

// Full path of the pgbackrest program; throws pgstack::Error naming the package when missing.
std::string pgbackrest_program();

// <dir>/pgbackrest: the config, pgBackRest's logs, locks and spool, owned by the server user.
std::filesystem::path pgbackrest_dir(const ClusterLayout& layout);
std::filesystem::path pgbackrest_config(const ClusterLayout& layout);  // <dir>/pgbackrest/pgbackrest.conf
// The repository folder of a posix repository (the default <dir>/backups); empty for S3.
std::filesystem::path repository_folder(const ClusterLayout& layout);

// The text of pgbackrest.conf for the layout (its repository, the primary's folder,
// socket and port, retention, compression).
std::string pgbackrest_config_text(const ClusterLayout& layout);
// Writes it (and makes the folders) when it differs; true when it changed.
bool write_pgbackrest_config(const ClusterLayout& layout);

// postgresql.conf's archive_command for a server of the stack (the primary when null):
// `pgbackrest --config=... --stanza=pgstack archive-push %p`. A standby names its own
// folder: it archives nothing while in recovery, only once promoted.
std::string archive_command(const ClusterLayout& layout, const Component* server = nullptr);
// archive_mode, archive_command and archive_timeout for that server's pgstack.conf.
std::vector<tune::Setting> archive_settings(const ClusterLayout& layout, const Component& server);

// The stanza exists (stanza-create when the repository lacks it) and the config is
// current. Needs the primary running; waits while it replays archived WAL (a primary
// restored with pgbackrest restore). Returns what it did; empty when nothing changed.
std::vector<std::string> ensure_stanza(const ClusterLayout& layout);
// ensure_stanza, then `pgbackrest check` when anything changed, then a first full backup
// when the repository holds none. Returns what it did ("first full backup
// 20261130-101500F in 4.2 s"); empty when nothing changed. Throws pgstack::Error.
std::vector<std::string> ensure_backups(const ClusterLayout& layout);

// pgbackrest check: the config is valid, and a WAL segment switched now reaches the
// repository. Throws pgstack::Error with pgBackRest's own words when it does not.
void check_backups(const ClusterLayout& layout);

// Takes a backup (a diff or incr with no full before it becomes a full: pgBackRest's
// rule) and returns it. Expiry by the retention policy runs after it.
BackupInfo run_backup(const ClusterLayout& layout, BackupType type);

// The repository's backups, oldest first; empty when it holds none or has no stanza yet.
std::vector<BackupInfo> list_backups(const ClusterLayout& layout);

ArchiveStatus archive_status(pg::Connection& conn);

struct RestoreOptions {
  std::string label;        // the backup to start from; empty: the newest
  std::string target_time;  // recover up to this time ("2026-11-30 10:15:00+00"); empty: all archived WAL
};

// Restores a copy of the primary into target (missing or empty), owned by the server
// user, with archive_mode=off so the copy never pushes WAL into the stack's repository.
// Starting it (on a port of the caller's choosing) replays archived WAL, then promotes.
void restore_to(const ClusterLayout& layout, const std::filesystem::path& target, const RestoreOptions& options = {});

}  // namespace pgstack::stack
