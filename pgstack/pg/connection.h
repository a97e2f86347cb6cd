// One connection to PostgreSQL: the only place (with the rest of pgstack/pg) that calls
// libpq. Connects from a URI or keyword DSN with a connect timeout, runs parameterised
// statements with binary results, and caches prepared statements unless told not to.
//
//   pgstack::pg::Connection conn({.dsn = "postgresql://app@localhost:5432/app"});
//   conn.query("insert into notes(body) values ($1)", "hello");
//   auto n = conn.query_value<std::int64_t>("select count(*) from notes");
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "pgstack/pg/errors.h"
#include "pgstack/pg/params.h"
#include "pgstack/pg/query_methods.h"
#include "pgstack/pg/result.h"

struct pg_conn;

namespace pgstack::pg {

// A message the server sent that is not an error: RAISE NOTICE, "relation already
// exists, skipping", a WARNING. libpq would print it to stderr; pgstack hands it to
// ConnectOptions::on_notice and keeps the last few on the connection instead.
struct Notice {
  std::string severity;  // NOTICE, WARNING, INFO, LOG, DEBUG (or FATAL when the server closes an idle connection)
  std::string sqlstate;
  std::string message;
  std::string detail;
  std::string hint;
};

struct ConnectOptions {
  // A URI (postgresql://user@host:port/db?sslmode=require) or keyword=value pairs.
  std::string dsn;
  // Bounds the whole connection attempt, DNS to authentication; libpq's own
  // connect_timeout counts whole seconds only and restarts per host.
  std::chrono::milliseconds connect_timeout{5000};
  // Server-side prepared statements, one set per connection. Turn off behind a
  // transaction-mode pooler: PgBouncer 1.18 cannot keep them across transactions.
  bool statement_cache = true;
  std::size_t statement_cache_capacity = 256;
  // Shown in pg_stat_activity; DSN's own application_name wins when it sets one.
  std::string application_name = "pgstack";
  // Called for every notice, on the thread running the statement. Exceptions it throws
  // are swallowed: they cannot travel back through libpq.
  std::function<void(const Notice&)> on_notice;
};

// Validates a DSN without connecting; throws UsageError with libpq's reason.
void validate_dsn(std::string_view dsn);

// Returns dsn with password=... (or the URI's password) replaced by "********".
std::string redact_dsn(std::string_view dsn);

enum class TransactionStatus { idle, active, in_transaction, in_error, unknown };

// The rows of a simple-protocol query, as the server's text: for consoles that speak
// only the simple protocol (PgBouncer's SHOW POOLS) and for SHOW-like commands.
struct TextRows {
  std::vector<std::string> columns;
  std::vector<std::vector<std::optional<std::string>>> rows;  // nullopt: SQL NULL
  // The column's index by name; throws Error naming the missing column.
  std::size_t column(std::string_view name) const;
};

class Connection : public QueryMethods<Connection> {
 public:
  explicit Connection(const ConnectOptions& options);
  explicit Connection(std::string_view dsn) : Connection(ConnectOptions{.dsn = std::string(dsn)}) {}
  Connection(Connection&&) noexcept;
  Connection& operator=(Connection&&) noexcept;
  ~Connection();

  // Runs one statement with parameters; results arrive in binary. Throws SqlError.
  Result execute(std::string_view sql, const Params& params);
  using QueryMethods<Connection>::query;

  // Runs SQL text that may hold several statements (a migration file, a script) with
  // the simple protocol. No parameters; results are discarded.
  void execute_script(std::string_view sql);
  // Runs one statement with the simple protocol and returns its rows as text.
  TextRows simple_query(std::string_view sql);

  // True when the socket is healthy. Reads what the server sent meanwhile without
  // blocking, so a connection the server closed (restart, idle timeout) reads as dead.
  bool is_alive();
  bool is_open() const noexcept;
  TransactionStatus transaction_status() const noexcept;
  int backend_pid() const noexcept;
  int server_version() const noexcept;  // e.g. 150018
  // The port this connection went to (libpq's PQport): a pooler's port when it went
  // through one, which is how a client tells (the server's own `port` setting differs).
  std::string port() const;
  std::string parameter(std::string_view name) const;  // server parameter, e.g. "TimeZone"
  // True when the link to the server (or pooler) is encrypted with TLS.
  bool uses_tls() const;

  // Asks the server to cancel the statement now running; safe from another thread.
  void cancel();

  // Quotes an identifier (table, channel, role name) for SQL; never use it for values.
  std::string quote_identifier(std::string_view name) const;

  bool statement_cache_enabled() const noexcept { return cache_enabled_; }
  void set_statement_cache(bool enabled);
  std::size_t cached_statements() const noexcept { return cache_.size(); }

  // The last few notices the server sent on this connection, oldest first.
  static constexpr std::size_t kRecentNotices = 16;
  std::vector<Notice> recent_notices() const;

  const ConnectOptions& options() const noexcept { return options_; }

 private:
  // libpq's handle and its errors, for the driver's own classes only: callers get
  // everything through the methods above (the layering check keeps libpq in pg/).
  friend class CopyWriter;
  friend class Listener;
  pg_conn* native() const noexcept { return conn_; }
  // Throws the SqlError for a failed libpq result (or connection loss when null).
  [[noreturn]] void throw_last_error(struct pg_result* result) const;

  struct CachedStatement {
    std::string name;
    std::list<std::string>::iterator lru;
  };
  static std::string cache_key(std::string_view sql, const Params& params);
  const std::string* prepare_cached(std::string_view sql, const Params& params);
  void forget_statement(std::string_view sql, const Params& params);
  void flush_pending_deallocations();

  // Pipeline shares the statement cache: it sends cached statements by name and
  // prepares missing ones inside the batch itself, so the cache costs it no round trip.
  friend class Pipeline;
  // The cached statement's name for this key (made by cache_key), or nullptr.
  const std::string* find_cached_statement(const std::string& key);
  // Records a statement prepared elsewhere (in a pipeline) as `name`, evicting the least
  // recently used one as prepare_cached does; the evicted one is deallocated later.
  void remember_statement(std::string key, std::string name);
  // True for the errors that mean a cached statement is gone or stale (see execute()).
  static bool is_stale_statement_error(const struct pg_result* result);
  void close() noexcept;

  // On the heap so libpq's pointer to it survives moving the Connection.
  struct NoticeSink {
    std::function<void(const Notice&)> callback;
    std::deque<Notice> recent;
  };
  // libpq's notice receiver: replaces the default one, which prints to stderr.
  static void receive_notice(void* sink, const struct pg_result* result);

  ConnectOptions options_;
  std::unique_ptr<NoticeSink> notices_;
  pg_conn* conn_ = nullptr;
  bool cache_enabled_ = true;
  std::uint64_t next_statement_ = 0;
  std::unordered_map<std::string, CachedStatement> cache_;  // key: OIDs + SQL
  std::list<std::string> lru_;                                 // most recent first
  std::vector<std::string> pending_deallocations_;             // evicted, not yet DEALLOCATEd
};

}  // namespace pgstack::pg
