#include "pgstack/pg/connection.h"

#include <libpq-fe.h>
#include <poll.h>

#include <cerrno>
#include <string>

#include <fmt/format.h>

#include "pgstack/base/strings.h"

namespace pgstack::pg {

namespace {

[[noreturn]] void throw_connection_error(std::string message, bool lost) {
  ErrorFields f;
  f.sqlstate = lost ? "08006" : "08001";  // connection_failure / unable_to_establish_connection
  f.severity = "FATAL";
  f.message = std::move(message);
  if (lost) throw ConnectionLost(std::move(f));
  throw ConnectionError(std::move(f));
}

// Waits until fd is readable (or writable); false on timeout.
bool wait_socket(int fd, bool for_write, std::chrono::steady_clock::time_point deadline) {
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd, static_cast<short>(for_write ? POLLOUT : POLLIN), 0};
    const int n = ::poll(&p, 1, static_cast<int>(left.count()));
    if (n > 0) return true;
    if (n < 0 && errno != EINTR) return true;  // let libpq report the socket's error
  }
}

bool is_retryable_cache_miss(const char* sqlstate, const char* message) {
  if (!sqlstate) return false;
  const std::string_view s = sqlstate;
  // 26000: the statement vanished (DISCARD ALL, a pooler); 0A000 "cached plan must not
  // change result type": the table changed shape under a prepared SELECT *.
  return s == "26000" || (s == "0A000" && message && std::string_view(message).find("cached plan") != std::string_view::npos);
}

}  // namespace

void validate_dsn(std::string_view dsn) {
  char* err = nullptr;
  PQconninfoOption* options = PQconninfoParse(std::string(dsn).c_str(), &err);
  if (!options) {
    std::string reason = err ? std::string(trim(err)) : "out of memory";
    PQfreemem(err);
    throw UsageError(fmt::format(
        "invalid connection string: {}; use a URI like postgresql://user@host:5432/dbname "
        "or keywords like \"host=localhost port=5432 dbname=app\"",
        reason));
  }
  PQconninfoFree(options);
}

std::string redact_dsn(std::string_view dsn) {
  PQconninfoOption* options = PQconninfoParse(std::string(dsn).c_str(), nullptr);
  if (!options) return "<invalid connection string>";
  std::string out;
  for (PQconninfoOption* o = options; o->keyword; ++o) {
    if (!o->val || !*o->val) continue;
    const std::string_view key = o->keyword;
    if (!out.empty()) out += ' ';
    out += fmt::format("{}={}", key, key == "password" ? "********" : o->val);
  }
  PQconninfoFree(options);
  return out;
}

Connection::Connection(const ConnectOptions& options)
    : options_(options),
      notices_(std::make_unique<NoticeSink>(NoticeSink{.callback = options.on_notice})),
      cache_enabled_(options.statement_cache) {
  validate_dsn(options_.dsn);
  // Defaults first: what the DSN says (expanded at the position of dbname) wins.
  const char* keys[] = {"client_encoding", "fallback_application_name", "dbname", nullptr};
  const char* values[] = {"UTF8", options_.application_name.c_str(), options_.dsn.c_str(), nullptr};
  conn_ = PQconnectStartParams(keys, values, /*expand_dbname=*/1);
  if (!conn_) throw_connection_error("cannot connect: libpq is out of memory", false);
  PQsetNoticeReceiver(conn_, &receive_notice, notices_.get());

  const auto deadline = std::chrono::steady_clock::now() + options_.connect_timeout;
  PostgresPollingStatusType state = PGRES_POLLING_WRITING;
  while (PQstatus(conn_) != CONNECTION_BAD && state != PGRES_POLLING_OK && state != PGRES_POLLING_FAILED) {
    if (!wait_socket(PQsocket(conn_), state == PGRES_POLLING_WRITING, deadline)) {
      const std::string target = redact_dsn(options_.dsn);
      close();
      throw_connection_error(fmt::format("cannot connect to PostgreSQL ({}): no answer within {} ms; check that the "
                                         "server is running and reachable, or raise the connect timeout",
                                         target, options_.connect_timeout.count()),
                             false);
    }
    state = PQconnectPoll(conn_);
  }
  if (PQstatus(conn_) != CONNECTION_OK) {
    std::string reason(trim(PQerrorMessage(conn_)));
    const std::string target = redact_dsn(options_.dsn);
    close();
    throw_connection_error(fmt::format("cannot connect to PostgreSQL ({}): {}", target, reason), false);
  }
}

Connection::Connection(Connection&& other) noexcept
    : options_(std::move(other.options_)),
      notices_(std::move(other.notices_)),
      conn_(std::exchange(other.conn_, nullptr)),
      cache_enabled_(other.cache_enabled_),
      next_statement_(other.next_statement_),
      cache_(std::move(other.cache_)),
      lru_(std::move(other.lru_)),
      pending_deallocations_(std::move(other.pending_deallocations_)) {}

Connection& Connection::operator=(Connection&& other) noexcept {
  if (this != &other) {
    close();
    options_ = std::move(other.options_);
    notices_ = std::move(other.notices_);
    conn_ = std::exchange(other.conn_, nullptr);
    cache_enabled_ = other.cache_enabled_;
    next_statement_ = other.next_statement_;
    cache_ = std::move(other.cache_);
    lru_ = std::move(other.lru_);
    pending_deallocations_ = std::move(other.pending_deallocations_);
  }
  return *this;
}

Connection::~Connection() { close(); }

void Connection::close() noexcept {
  if (conn_) PQfinish(conn_);
  conn_ = nullptr;
  cache_.clear();
  lru_.clear();
  pending_deallocations_.clear();
}

void Connection::throw_last_error(pg_result* result) const {
  const bool lost = !conn_ || PQstatus(conn_) == CONNECTION_BAD;
  ErrorFields f;
  if (result) {
    auto field = [&](int code) {
      const char* v = PQresultErrorField(result, code);
      return v ? std::string(v) : std::string();
    };
    f.sqlstate = field(PG_DIAG_SQLSTATE);
    f.severity = field(PG_DIAG_SEVERITY_NONLOCALIZED);
    f.message = field(PG_DIAG_MESSAGE_PRIMARY);
    f.detail = field(PG_DIAG_MESSAGE_DETAIL);
    f.hint = field(PG_DIAG_MESSAGE_HINT);
    const std::string position = field(PG_DIAG_STATEMENT_POSITION);
    f.position = position.empty() ? 0 : std::stoi(position);
    f.context = field(PG_DIAG_CONTEXT);
    f.schema = field(PG_DIAG_SCHEMA_NAME);
    f.table = field(PG_DIAG_TABLE_NAME);
    f.column = field(PG_DIAG_COLUMN_NAME);
    f.constraint = field(PG_DIAG_CONSTRAINT_NAME);
    if (f.message.empty()) f.message = trim(PQresultErrorMessage(result));
  }
  if (f.message.empty()) f.message = conn_ ? trim(PQerrorMessage(conn_)) : "the connection is closed";
  if (lost) {
    // Whatever the server said last (57P01 on shutdown, or nothing at all), the caller's
    // question is "is my connection gone?": yes. The SQLSTATE is kept for the curious.
    if (f.sqlstate.empty()) f.sqlstate = "08006";
    f.message = "connection to PostgreSQL lost: " + f.message;
    throw ConnectionLost(std::move(f));
  }
  throw_sql_error(std::move(f));
}

namespace {
struct ResultGuard {
  PGresult* r;
  ~ResultGuard() {
    if (r) PQclear(r);
  }
  PGresult* release() { return std::exchange(r, nullptr); }
};

bool succeeded(PGresult* r) {
  if (!r) return false;
  switch (PQresultStatus(r)) {
    case PGRES_COMMAND_OK:
    case PGRES_TUPLES_OK:
    case PGRES_EMPTY_QUERY:
      return true;
    default:
      return false;
  }
}
}  // namespace

namespace {
// PQexec*'s wait, reading first: libpq polls before every read, but on a busy
// machine the reply is often already there once the query is sent (the server ran
// while we were descheduled), and then a read saves a poll. Results are folded as
// PQexec folds them: the last one, or the first error.
PGresult* await_result(PGconn* c) {
  PGresult* kept = nullptr;
  for (;;) {
    while (PQisBusy(c)) {
      if (!PQconsumeInput(c)) break;  // the connection failed: PQgetResult reports it
      if (!PQisBusy(c)) break;
      pollfd p{PQsocket(c), POLLIN, 0};
      if (::poll(&p, 1, -1) < 0 && errno != EINTR) break;
    }
    PGresult* r = PQgetResult(c);
    if (!r) return kept;
    const ExecStatusType status = PQresultStatus(r);
    if (kept && PQresultStatus(kept) == PGRES_FATAL_ERROR) {
      PQclear(r);
    } else {
      PQclear(kept);
      kept = r;
    }
    if (status == PGRES_COPY_IN || status == PGRES_COPY_OUT || status == PGRES_COPY_BOTH ||
        PQstatus(c) == CONNECTION_BAD)
      return kept;
  }
}
}  // namespace

Result Connection::execute(std::string_view sql, const Params& params) {
  if (!conn_) throw_last_error(nullptr);
  flush_pending_deallocations();
  const bool autocommit = PQtransactionStatus(conn_) == PQTRANS_IDLE;
  for (int attempt = 0;; ++attempt) {
    PGresult* raw = nullptr;
    const std::string* statement =
        cache_enabled_ && options_.statement_cache_capacity > 0 ? prepare_cached(sql, params) : nullptr;
    if (statement) {
      if (PQsendQueryPrepared(conn_, statement->c_str(), params.size(), params.values(), params.lengths(),
                              params.formats(), /*resultFormat=*/1))
        raw = await_result(conn_);
    } else {
      raw = PQexecParams(conn_, std::string(sql).c_str(), params.size(), params.types().data(), params.values(),
                         params.lengths(), params.formats(), /*resultFormat=*/1);
    }
    ResultGuard guard{raw};
    if (succeeded(raw)) return Result(guard.release());
    if (statement && raw &&
        is_retryable_cache_miss(PQresultErrorField(raw, PG_DIAG_SQLSTATE),
                                PQresultErrorField(raw, PG_DIAG_MESSAGE_PRIMARY))) {
      forget_statement(sql, params);
      // Retrying is safe only when the failed statement was its own transaction.
      if (autocommit && attempt == 0 && PQstatus(conn_) == CONNECTION_OK) continue;
    }
    throw_last_error(raw);
  }
}

void Connection::execute_script(std::string_view sql) {
  if (!conn_) throw_last_error(nullptr);
  ResultGuard guard{PQexec(conn_, std::string(sql).c_str())};
  if (!succeeded(guard.r)) throw_last_error(guard.r);
}

TextRows Connection::simple_query(std::string_view sql) {
  if (!conn_) throw_last_error(nullptr);
  ResultGuard guard{PQexec(conn_, std::string(sql).c_str())};
  if (!succeeded(guard.r)) throw_last_error(guard.r);
  TextRows out;
  const int columns = PQnfields(guard.r);
  const int rows = PQntuples(guard.r);
  for (int c = 0; c < columns; ++c) out.columns.emplace_back(PQfname(guard.r, c));
  out.rows.reserve(rows);
  for (int r = 0; r < rows; ++r) {
    auto& row = out.rows.emplace_back();
    for (int c = 0; c < columns; ++c)
      row.push_back(PQgetisnull(guard.r, r, c) ? std::nullopt
                                               : std::optional<std::string>(PQgetvalue(guard.r, r, c)));
  }
  return out;
}

std::size_t TextRows::column(std::string_view name) const {
  for (std::size_t i = 0; i < columns.size(); ++i)
    if (columns[i] == name) return i;
  throw Error(fmt::format("the result has no column \"{}\"", name));
}

std::string Connection::cache_key(std::string_view sql, const Params& params) {
  std::string key;
  key.reserve(sql.size() + 4 * params.types().size() + 1);
  for (Oid t : params.types()) key.append(reinterpret_cast<const char*>(&t), sizeof t);
  key.push_back('\0');
  key.append(sql);
  return key;
}

const std::string* Connection::prepare_cached(std::string_view sql, const Params& params) {
  std::string key = cache_key(sql, params);
  if (auto it = cache_.find(key); it != cache_.end()) {
    lru_.splice(lru_.begin(), lru_, it->second.lru);
    return &it->second.name;
  }
  // Evict before preparing, so the server never holds more than the capacity.
  if (cache_.size() >= options_.statement_cache_capacity && !lru_.empty()) {
    auto victim = cache_.find(lru_.back());
    pending_deallocations_.push_back(victim->second.name);
    cache_.erase(victim);
    lru_.pop_back();
    flush_pending_deallocations();
  }
  std::string name = fmt::format("pgstack_{}", next_statement_++);
  ResultGuard guard{PQprepare(conn_, name.c_str(), std::string(sql).c_str(), params.size(), params.types().data())};
  if (!succeeded(guard.r)) throw_last_error(guard.r);
  lru_.push_front(key);
  auto [it, inserted] = cache_.emplace(std::move(key), CachedStatement{std::move(name), lru_.begin()});
  return &it->second.name;
}

void Connection::forget_statement(std::string_view sql, const Params& params) {
  if (auto it = cache_.find(cache_key(sql, params)); it != cache_.end()) {
    lru_.erase(it->second.lru);
    cache_.erase(it);
  }
}

bool Connection::is_stale_statement_error(const pg_result* result) {
  return is_retryable_cache_miss(PQresultErrorField(result, PG_DIAG_SQLSTATE),
                                 PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY));
}

const std::string* Connection::find_cached_statement(const std::string& key) {
  auto it = cache_.find(key);
  if (it == cache_.end()) return nullptr;
  lru_.splice(lru_.begin(), lru_, it->second.lru);
  return &it->second.name;
}

void Connection::remember_statement(std::string key, std::string name) {
  if (cache_.count(key)) {  // prepared twice meanwhile: keep one, drop the other
    pending_deallocations_.push_back(std::move(name));
    return;
  }
  if (cache_.size() >= options_.statement_cache_capacity && !lru_.empty()) {
    auto victim = cache_.find(lru_.back());
    pending_deallocations_.push_back(victim->second.name);
    cache_.erase(victim);
    lru_.pop_back();
  }
  lru_.push_front(key);
  cache_.emplace(std::move(key), CachedStatement{std::move(name), lru_.begin()});
}

void Connection::flush_pending_deallocations() {
  // DEALLOCATE fails inside an aborted transaction; evicted names wait for a clean moment.
  if (pending_deallocations_.empty() || PQtransactionStatus(conn_) == PQTRANS_INERROR) return;
  for (const auto& name : pending_deallocations_) {
    ResultGuard guard{PQexec(conn_, ("DEALLOCATE " + quote_identifier(name)).c_str())};
  }
  pending_deallocations_.clear();
}

void Connection::set_statement_cache(bool enabled) {
  cache_enabled_ = enabled;
  if (!enabled && conn_) {
    for (auto& [key, entry] : cache_) pending_deallocations_.push_back(entry.name);
    cache_.clear();
    lru_.clear();
    if (PQtransactionStatus(conn_) == PQTRANS_IDLE) flush_pending_deallocations();
  }
}

bool Connection::is_open() const noexcept { return conn_ && PQstatus(conn_) == CONNECTION_OK; }

bool Connection::is_alive() {
  if (!is_open()) return false;
  if (PQtransactionStatus(conn_) == PQTRANS_ACTIVE) return true;
  // An idle connection has nothing to read unless the server said something: a
  // notification, or a FATAL before closing (shutdown, idle timeout, terminate). The
  // message and the end of the stream may need separate reads to be seen.
  for (int reads = 0; reads < 4; ++reads) {
    pollfd p{PQsocket(conn_), POLLIN, 0};
    if (::poll(&p, 1, 0) <= 0) break;
    if (PQconsumeInput(conn_) == 0) return false;
  }
  return PQstatus(conn_) == CONNECTION_OK;
}

TransactionStatus Connection::transaction_status() const noexcept {
  if (!conn_) return TransactionStatus::unknown;
  switch (PQtransactionStatus(conn_)) {
    case PQTRANS_IDLE: return TransactionStatus::idle;
    case PQTRANS_ACTIVE: return TransactionStatus::active;
    case PQTRANS_INTRANS: return TransactionStatus::in_transaction;
    case PQTRANS_INERROR: return TransactionStatus::in_error;
    default: return TransactionStatus::unknown;
  }
}

void Connection::receive_notice(void* arg, const PGresult* result) {
  auto field = [&](int code) {
    const char* v = PQresultErrorField(result, code);
    return v ? std::string(v) : std::string();
  };
  Notice notice{.severity = field(PG_DIAG_SEVERITY_NONLOCALIZED),
                .sqlstate = field(PG_DIAG_SQLSTATE),
                .message = field(PG_DIAG_MESSAGE_PRIMARY),
                .detail = field(PG_DIAG_MESSAGE_DETAIL),
                .hint = field(PG_DIAG_MESSAGE_HINT)};
  if (notice.message.empty()) notice.message = trim(PQresultErrorMessage(result));
  auto* sink = static_cast<NoticeSink*>(arg);
  if (sink->callback) {
    try {
      sink->callback(notice);
    } catch (...) {
      // Unwinding through libpq's C frames is undefined behaviour; the notice is kept below.
    }
  }
  sink->recent.push_back(std::move(notice));
  if (sink->recent.size() > kRecentNotices) sink->recent.pop_front();
}

std::vector<Notice> Connection::recent_notices() const {
  if (!notices_) return {};
  return {notices_->recent.begin(), notices_->recent.end()};
}

int Connection::backend_pid() const noexcept { return conn_ ? PQbackendPID(conn_) : 0; }
int Connection::server_version() const noexcept { return conn_ ? PQserverVersion(conn_) : 0; }

std::string Connection::port() const {
  const char* p = conn_ ? PQport(conn_) : nullptr;
  return p ? p : "";
}

std::string Connection::parameter(std::string_view name) const {
  const char* v = conn_ ? PQparameterStatus(conn_, std::string(name).c_str()) : nullptr;
  return v ? v : "";
}

void Connection::cancel() {
  if (!conn_) return;
  PGcancel* c = PQgetCancel(conn_);
  if (!c) return;
  char err[256];
  PQcancel(c, err, sizeof err);
  PQfreeCancel(c);
}

bool Connection::uses_tls() const { return conn_ && PQsslInUse(conn_) == 1; }

std::string Connection::quote_identifier(std::string_view name) const {
  if (!conn_) throw UsageError("quote_identifier needs an open connection (for its encoding)");
  char* quoted = PQescapeIdentifier(conn_, name.data(), name.size());
  if (!quoted) throw UsageError(fmt::format("cannot quote identifier: {}", trim(PQerrorMessage(conn_))));
  std::string out = quoted;
  PQfreemem(quoted);
  return out;
}

}  // namespace pgstack::pg
