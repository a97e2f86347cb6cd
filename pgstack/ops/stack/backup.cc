#include "pgstack/ops/stack/backup.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "pgstack/base/strings.h"
#include "pgstack/ops/stack/layout.h"
#include "pgstack/ops/stack/postgres_server.h"
#include "pgstack/pg/connection.h"
#include "pgstack/pg/errors.h"
#include "pgstack/base/files.h"
#include "pgstack/sys/process.h"

namespace pgstack::stack {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// How long each pgBackRest command may take before it is killed. A backup of a big
// database takes long; the others talk to the repository and the primary only.
constexpr auto kQuickTimeout = 120s;  // info, stanza-create (pgBackRest's own waits are 60 s)
constexpr auto kCheckTimeout = 180s;  // check waits up to archive-timeout (60 s) for a WAL segment
constexpr auto kBackupTimeout = std::chrono::hours(6);
constexpr auto kRestoreTimeout = std::chrono::hours(6);
constexpr auto kRecoveryWait = std::chrono::minutes(30);  // a restored primary replaying the archive

// pgbackrest info's status codes (command/info/info.c).
constexpr int kInfoOk = 0;
constexpr int kInfoMissingStanzaPath = 1;
constexpr int kInfoNoBackup = 2;
constexpr int kInfoMissingStanzaData = 3;


// archive_command runs through /bin/sh, and PostgreSQL expands % in it.
std::string shell_word(const std::string& text) {
  std::string out;
  bool plain = !text.empty();
  for (char c : text) {
    if (c == '%') out += '%';  // %% is a literal % to PostgreSQL
    out += c;
    plain = plain && (std::isalnum(static_cast<unsigned char>(c)) || std::strchr("/._-+=:@,%", c));
  }
  if (plain) return out;
  return shell_quote(out);
}

// pgbackrest.conf is an ini file: a value runs to the end of its line.
std::string ini_value(const std::string& name, const std::string& value) {
  if (value.find_first_of("\r\n") != std::string::npos)
    throw Error(fmt::format("the backup repository's {} holds a line break; fix it in the stack's configuration", name));
  return value;
}

// Makes a folder pgBackRest writes to (as the server user); a new one is given to it.
void make_server_folder(const fs::path& dir) {
  std::error_code ec;
  bool created = fs::create_directories(dir, ec);
  if (ec) throw Error(fmt::format("cannot create {}: {}; check the stack folder's permissions", dir.string(), ec.message()));
  if (!created) return;
  fs::permissions(dir, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec, ec);
  sys::give_to_server_user(dir.string());
}

std::string repository_description(const ClusterLayout& layout) {
  const auto& repo = layout.backup_repository;
  if (repo.type == "s3")
    return fmt::format("s3://{}{}", repo.s3_bucket, repo.path.empty() ? std::string("/pgstack") : repo.path.string());
  return repository_folder(layout).string();
}

// Runs pgbackrest for the stack's stanza as the server user.
sys::RunResult pgbackrest(const ClusterLayout& layout, std::vector<std::string> args, std::chrono::milliseconds timeout) {
  std::vector<std::string> argv = {pgbackrest_program(), "--config=" + pgbackrest_config(layout).string(),
                                   std::string("--stanza=") + kStanza};
  argv.insert(argv.end(), args.begin(), args.end());
  return sys::run(argv, {.as_user = sys::server_user(), .timeout = timeout});
}

// As pgbackrest(), throwing an Error with pgBackRest's words and what to do on failure.
std::string pgbackrest_or_throw(const ClusterLayout& layout, const std::string& what, std::vector<std::string> args,
                                std::chrono::milliseconds timeout, const std::string& hint) {
  auto r = pgbackrest(layout, std::move(args), timeout);
  if (r.exit_code == 0) return r.output;
  std::string why = r.timed_out ? fmt::format("killed after {} s", std::chrono::duration_cast<std::chrono::seconds>(timeout).count())
                                : fmt::format("exit {}", r.exit_code);
  throw Error(fmt::format("pgbackrest {} failed ({}):\n{}\n{}; pgBackRest's logs are in {}", what, why,
                          sys::last_lines(r.output, 8),
                          hint, (pgbackrest_dir(layout) / "log").string()));
}

// What `pgbackrest info` says about the stanza.
struct RepositoryState {
  int code = kInfoMissingStanzaPath;
  std::string message;
  nlohmann::json backups = nlohmann::json::array();
  bool has_stanza() const { return code != kInfoMissingStanzaPath && code != kInfoMissingStanzaData; }
};

RepositoryState read_repository(const ClusterLayout& layout) {
  auto output = pgbackrest_or_throw(layout, "info", {"--output=json", "info"}, kQuickTimeout,
                                    "check the repository (" + repository_description(layout) + ") is reachable");
  // Warnings (a log file it cannot open...) may precede the document.
  auto start = output.find("\n[");
  auto doc = nlohmann::json::parse(output.starts_with("[") ? output : start == std::string::npos ? "" : output.substr(start + 1),
                                   nullptr, false);
  if (doc.is_discarded() || !doc.is_array() || doc.empty() || !doc[0].is_object())
    throw Error(fmt::format("pgbackrest info printed no stanza list:\n{}\nthis pgBackRest is not the 2.x pgstack expects "
                            "(pgbackrest version)",
                            sys::last_lines(output, 8)));
  const auto& stanza = doc[0];
  RepositoryState state;
  state.code = stanza.at("status").value("code", 99);
  state.message = stanza.at("status").value("message", std::string("unknown"));
  if (stanza.contains("backup") && stanza["backup"].is_array()) state.backups = stanza["backup"];
  return state;
}

std::string text_or_empty(const nlohmann::json& doc, const char* key) {
  return doc.contains(key) && doc[key].is_string() ? doc[key].get<std::string>() : std::string();
}

BackupInfo parse_backup(const nlohmann::json& b) {
  BackupInfo out;
  out.label = b.at("label").get<std::string>();
  out.type = parse_backup_type(b.at("type").get<std::string>()).value_or(BackupType::full);
  out.prior = text_or_empty(b, "prior");
  const auto& ts = b.at("timestamp");
  out.start = std::chrono::system_clock::time_point(std::chrono::seconds(ts.value("start", std::int64_t{0})));
  out.stop = std::chrono::system_clock::time_point(std::chrono::seconds(ts.value("stop", std::int64_t{0})));
  if (b.contains("info")) {
    out.size = b["info"].value("size", std::int64_t{0});
    if (b["info"].contains("repository")) {
      out.repo_size = b["info"]["repository"].value("size", std::int64_t{0});
      out.repo_delta = b["info"]["repository"].value("delta", out.repo_size);
    }
  }
  if (b.contains("archive") && b["archive"].is_object()) {
    out.wal_start = text_or_empty(b["archive"], "start");
    out.wal_stop = text_or_empty(b["archive"], "stop");
  }
  return out;
}

std::vector<BackupInfo> parse_backups(const RepositoryState& state) {
  std::vector<BackupInfo> out;
  for (const auto& b : state.backups) out.push_back(parse_backup(b));
  return out;
}

// A primary restored with pgbackrest restore accepts connections while it still replays
// the archive; pgBackRest refuses a server in recovery, and the standby's pg_basebackup
// would fail when it promotes. So everything after it waits for the promotion.
void wait_until_primary_promoted(const ClusterLayout& layout) {
  pg::Connection primary(layout.dsn(nullptr, "postgres"));
  const auto deadline = std::chrono::steady_clock::now() + kRecoveryWait;
  while (primary.query_value<bool>("select pg_is_in_recovery()")) {
    if (std::chrono::steady_clock::now() > deadline)
      throw Error(fmt::format("the primary is still replaying archived WAL (a restore?) after {} min; see {} and run "
                              "pgstack up again once it has finished",
                              std::chrono::duration_cast<std::chrono::minutes>(kRecoveryWait).count(),
                              layout.log_file(layout.primary()).string()));
    std::this_thread::sleep_for(200ms);
  }
}

// Writes the config and creates the stanza when the repository lacks it; state is what
// the repository holds afterwards.
std::vector<std::string> ensure_stanza_state(const ClusterLayout& layout, RepositoryState& state) {
  wait_until_primary_promoted(layout);
  std::vector<std::string> actions;
  if (write_pgbackrest_config(layout)) actions.push_back("wrote " + pgbackrest_config(layout).string());
  state = read_repository(layout);
  if (!state.has_stanza()) {
    pgbackrest_or_throw(layout, "stanza-create", {"stanza-create"}, kQuickTimeout,
                        "the primary must be running and the repository (" + repository_description(layout) +
                            ") writable by the server user");
    actions.push_back(fmt::format("created pgBackRest stanza {} in {}", kStanza, repository_description(layout)));
    state = read_repository(layout);
  }
  if (state.code != kInfoOk && state.code != kInfoNoBackup)
    throw Error(fmt::format("the backup repository {} is not usable: pgBackRest says '{}' (status {}); point the stack "
                            "at another repository or move this one away, then run pgstack up again",
                            repository_description(layout), state.message, state.code));
  return actions;
}

}  // namespace

const char* to_string(BackupType type) {
  switch (type) {
    case BackupType::full: return "full";
    case BackupType::diff: return "diff";
    case BackupType::incr: return "incr";
  }
  return "full";
}

std::optional<BackupType> parse_backup_type(std::string_view text) {
  if (text == "full") return BackupType::full;
  if (text == "diff") return BackupType::diff;
  if (text == "incr") return BackupType::incr;
  return std::nullopt;
}

std::string pgbackrest_program() {
  auto path = sys::find_program("pgbackrest");
  if (!path)
    throw Error("pgbackrest is not installed (pgstack archives WAL and takes backups with it); install it "
                "(apt-get install pgbackrest) and run pgstack up again");
  return *path;
}

fs::path pgbackrest_dir(const ClusterLayout& layout) { return layout.dir / "pgbackrest"; }
fs::path pgbackrest_config(const ClusterLayout& layout) { return pgbackrest_dir(layout) / "pgbackrest.conf"; }

fs::path repository_folder(const ClusterLayout& layout) {
  const auto& repo = layout.backup_repository;
  if (repo.type != "posix") return {};
  if (repo.path.empty()) return layout.dir / "backups";
  return repo.path.is_absolute() ? repo.path : (layout.dir / repo.path).lexically_normal();
}

std::string pgbackrest_config_text(const ClusterLayout& layout) {
  const auto& repo = layout.backup_repository;
  const auto dir = pgbackrest_dir(layout);
  std::string text =
      "# Written by pgstack: `pgstack up` rewrites this file (docs/stack.md, \"Backups and WAL archiving\").\n"
      "[global]\n";
  if (repo.type == "posix") {
    text += "repo1-type=posix\n";
    text += "repo1-path=" + ini_value("path", repository_folder(layout).string()) + "\n";
  } else if (repo.type == "s3") {
    for (const auto& [field, value] : {std::pair{"s3_bucket", repo.s3_bucket}, std::pair{"s3_endpoint", repo.s3_endpoint},
                                       std::pair{"s3_region", repo.s3_region}, std::pair{"s3_key", repo.s3_key},
                                       std::pair{"s3_key_secret", repo.s3_key_secret}})
      if (value.empty())
        throw Error(fmt::format("the S3 backup repository has no {}; set it in the stack's configuration", field));
    if (repo.s3_uri_style != "host" && repo.s3_uri_style != "path")
      throw Error(fmt::format("the S3 backup repository's uri_style is '{}'; use host or path (MinIO: path)",
                              repo.s3_uri_style));
    text += "repo1-type=s3\n";
    text += "repo1-path=" + ini_value("path", repo.path.empty() ? std::string("/pgstack") : repo.path.string()) + "\n";
    text += "repo1-s3-bucket=" + ini_value("s3_bucket", repo.s3_bucket) + "\n";
    text += "repo1-s3-endpoint=" + ini_value("s3_endpoint", repo.s3_endpoint) + "\n";
    text += "repo1-s3-region=" + ini_value("s3_region", repo.s3_region) + "\n";
    text += "repo1-s3-key=" + ini_value("s3_key", repo.s3_key) + "\n";
    text += "repo1-s3-key-secret=" + ini_value("s3_key_secret", repo.s3_key_secret) + "\n";
    text += "repo1-s3-uri-style=" + repo.s3_uri_style + "\n";
    text += std::string("repo1-storage-verify-tls=") + (repo.s3_verify_tls ? "y" : "n") + "\n";
  } else {
    throw Error(fmt::format("unknown backup repository type '{}'; use posix (a folder) or s3", repo.type));
  }
  text += fmt::format(
      "# Full backups are kept {0} days: pgBackRest expires a full (and the diffs and incrs built on it)\n"
      "# once a newer full is itself at least {0} days old, so any moment of the last {0} days stays restorable.\n"
      "repo1-retention-full-type=time\n"
      "repo1-retention-full={0}\n"
      "# Differentials: pgBackRest counts them (it has no time-based diff retention); {1} is a week of daily ones.\n"
      "repo1-retention-diff={1}\n"
      "# WAL is kept for every backup still in the repository (the default archive retention).\n"
      "compress-type=zst\n"
      "process-max=2\n"
      "start-fast=y\n"
      "archive-async=n\n"
      "log-path={2}\n"
      "lock-path={3}\n"
      "spool-path={4}\n"
      "\n"
      "[{5}]\n"
      "pg1-path={6}\n"
      "pg1-socket-path={7}\n"
      "pg1-port={8}\n"
      "pg1-user={9}\n",
      kRetentionFullDays, kRetentionDiffCount, ini_value("log-path", (dir / "log").string()),
      ini_value("lock-path", (dir / "lock").string()), ini_value("spool-path", (dir / "spool").string()), kStanza,
      ini_value("pg1-path", layout.primary().dir.string()), ini_value("pg1-socket-path", layout.run_dir().string()),
      layout.primary().port, kSuperuser);
  return text;
}

bool write_pgbackrest_config(const ClusterLayout& layout) {
  auto text = pgbackrest_config_text(layout);  // first: a bad repository changes nothing
  const auto dir = pgbackrest_dir(layout);
  make_server_folder(dir);
  for (const char* sub : {"log", "lock", "spool"}) make_server_folder(dir / sub);
  if (auto folder = repository_folder(layout); !folder.empty()) make_server_folder(folder);
  const auto file = pgbackrest_config(layout);
  // It may hold an S3 secret: written 0600 from the start.
  if (!pgstack::replace_file_if_changed(file.string(), text, 0600)) return false;
  sys::give_to_server_user(file.string());
  return true;
}

std::string archive_command(const ClusterLayout& layout, const Component* server) {
  if (!server) server = &layout.primary();
  auto program = sys::find_program("pgbackrest").value_or("pgbackrest");
  std::string command = shell_word(program) + " --config=" + shell_word(pgbackrest_config(layout).string()) +
                        " --stanza=" + kStanza;
  // pgBackRest reads %p (relative to the server's folder) against pg1-path: the config
  // names the primary's, so another server names its own.
  if (server->role != Role::primary) command += " --pg1-path=" + shell_word(server->dir.string());
  return command + " archive-push %p";
}

std::vector<tune::Setting> archive_settings(const ClusterLayout& layout, const Component& server) {
  return {
      {"archive_mode", "on",
       "WAL goes to the backup repository (pgBackRest); a standby archives only once promoted"},
      {"archive_command", conf_string(archive_command(layout, &server)), "pgbackrest archive-push into stanza pgstack"},
      {"archive_timeout", "60s", "a quiet server still archives its last writes within a minute"},
  };
}

std::vector<std::string> ensure_stanza(const ClusterLayout& layout) {
  RepositoryState state;
  return ensure_stanza_state(layout, state);
}

std::vector<std::string> ensure_backups(const ClusterLayout& layout) {
  RepositoryState state;
  auto actions = ensure_stanza_state(layout, state);
  const bool no_backup = state.backups.empty();
  if (actions.empty() && !no_backup) return actions;
  check_backups(layout);
  if (no_backup) {
    const auto started = std::chrono::steady_clock::now();
    auto first = run_backup(layout, BackupType::full);
    const std::chrono::duration<double> took = std::chrono::steady_clock::now() - started;
    actions.push_back(fmt::format("first full backup {} in {:.1f} s ({})", first.label, took.count(),
                                  repository_description(layout)));
  }
  return actions;
}

void check_backups(const ClusterLayout& layout) {
  pgbackrest_or_throw(layout, "check", {"check"}, kCheckTimeout,
                      "WAL archiving or the repository does not work; see the primary's log (" +
                          layout.log_file(layout.primary()).string() + ") for archive_command errors");
}

BackupInfo run_backup(const ClusterLayout& layout, BackupType type) {
  pgbackrest_or_throw(layout, fmt::format("backup --type={}", to_string(type)), {std::string("--type=") + to_string(type), "backup"},
                      kBackupTimeout,
                      "the primary must be running and its WAL archiving working (pgstack status shows both)");
  auto backups = list_backups(layout);
  if (backups.empty())
    throw Error(fmt::format("pgbackrest backup succeeded but the repository {} lists no backup; run pgbackrest info "
                            "--config={} to see why",
                            repository_description(layout), pgbackrest_config(layout).string()));
  return backups.back();  // pgBackRest lists them oldest first
}

std::vector<BackupInfo> list_backups(const ClusterLayout& layout) {
  if (!fs::exists(pgbackrest_config(layout))) return {};  // a stack made before backups existed
  auto state = read_repository(layout);
  if (!state.has_stanza()) return {};
  return parse_backups(state);
}

ArchiveStatus archive_status(pg::Connection& conn) {
  auto rows = conn.query(
      "SELECT archived_count, last_archived_wal, last_archived_time, failed_count, last_failed_wal, last_failed_time "
      "FROM pg_stat_archiver");
  ArchiveStatus out;
  if (rows.empty()) return out;
  const auto& row = rows[0];
  out.archived_count = row.get<std::int64_t>(0);
  out.last_archived_wal = row.get<std::optional<std::string>>(1).value_or("");
  out.last_archived_time = row.get<std::optional<pg::Timestamp>>(2);
  out.failed_count = row.get<std::int64_t>(3);
  out.last_failed_wal = row.get<std::optional<std::string>>(4).value_or("");
  out.last_failed_time = row.get<std::optional<pg::Timestamp>>(5);
  return out;
}

void restore_to(const ClusterLayout& layout, const fs::path& target, const RestoreOptions& options) {
  const auto dir = fs::absolute(target).lexically_normal();
  std::error_code ec;
  for (const auto& c : layout.components)
    if (dir == c.dir || fs::equivalent(dir, c.dir, ec))
      throw Error(fmt::format("{} is the {}'s data folder; restore into a new, empty folder", dir.string(), c.name));
  if (fs::exists(dir, ec) && !fs::is_empty(dir, ec))
    throw Error(fmt::format("{} is not empty; restore into a new or empty folder (nothing was changed)", dir.string()));
  fs::create_directories(dir, ec);
  if (ec) throw Error(fmt::format("cannot create {}: {}", dir.string(), ec.message()));
  fs::permissions(dir, fs::perms::owner_all, fs::perm_options::replace, ec);  // PostgreSQL insists on 0700
  sys::give_to_server_user(dir.string());

  std::vector<std::string> args = {"--pg1-path=" + dir.string(), "--archive-mode=off"};
  if (!options.label.empty()) args.push_back("--set=" + options.label);
  if (!options.target_time.empty()) {
    args.push_back("--type=time");
    args.push_back("--target=" + options.target_time);
    args.push_back("--target-action=promote");
  }
  args.push_back("restore");
  pgbackrest_or_throw(layout, "restore", args, kRestoreTimeout,
                      fmt::format("check the backup label (pgstack backup list) and that the server user may write {}",
                                  dir.string()));
}

}  // namespace pgstack::stack
