#include "pgstack/pg/transaction.h"

#include <fmt/format.h>

#include "pgstack/pg/pool.h"

namespace pgstack::pg {

namespace {
const char* isolation_sql(IsolationLevel level) {
  switch (level) {
    case IsolationLevel::repeatable_read: return "REPEATABLE READ";
    case IsolationLevel::serializable: return "SERIALIZABLE";
    default: return "READ COMMITTED";
  }
}
}  // namespace

Transaction::Transaction(Connection& conn, TransactionOptions options) : conn_(&conn) { begin(options); }

Transaction::Transaction(PooledConnection lease, TransactionOptions options)
    : lease_(std::make_unique<PooledConnection>(std::move(lease))), conn_(&lease_->connection()) {
  begin(options);
}

Transaction::Transaction(Transaction&& other) noexcept
    : lease_(std::move(other.lease_)),
      conn_(other.conn_),
      open_(std::exchange(other.open_, false)),
      savepoints_(other.savepoints_) {}

void Transaction::begin(const TransactionOptions& options) {
  if (conn_->transaction_status() != TransactionStatus::idle)
    throw UsageError("cannot begin a transaction: the connection is already in one (use savepoint() to nest)");
  std::string sql = fmt::format("BEGIN ISOLATION LEVEL {}", isolation_sql(options.isolation));
  if (options.read_only) sql += " READ ONLY";
  if (options.deferrable) sql += " DEFERRABLE";
  conn_->execute_script(sql);
  open_ = true;
  try {
    // SET LOCAL via set_config(..., true): ends with the transaction, so it is safe
    // behind a transaction-mode pooler, and the values travel as parameters.
    if (options.statement_timeout)
      conn_->query("select set_config('statement_timeout', $1, true)",
                   fmt::format("{}ms", options.statement_timeout->count()));
    if (options.lock_timeout)
      conn_->query("select set_config('lock_timeout', $1, true)", fmt::format("{}ms", options.lock_timeout->count()));
  } catch (...) {
    rollback();
    throw;
  }
}

Transaction::~Transaction() {
  if (!open_) return;
  try {
    rollback();
  } catch (...) {
    // A destructor must not throw; a dead connection has rolled back by itself.
  }
}

void Transaction::require_open(const char* what) const {
  if (!open_) throw UsageError(fmt::format("cannot {}: the transaction has already ended", what));
}

Result Transaction::execute(std::string_view sql, const Params& params) {
  require_open("run a statement");
  return conn_->execute(sql, params);
}

void Transaction::execute_script(std::string_view sql) {
  require_open("run a script");
  conn_->execute_script(sql);
}

void Transaction::commit() {
  require_open("commit");
  open_ = false;  // whatever happens next, this transaction is over
  // COMMIT of a failed transaction "succeeds" as a ROLLBACK; report it as the failure it is.
  const bool failed = conn_->transaction_status() == TransactionStatus::in_error;
  conn_->execute_script("COMMIT");
  if (failed) {
    ErrorFields f;
    f.sqlstate = "25P02";  // in_failed_sql_transaction
    f.message = "cannot commit: an earlier statement failed, so the transaction was rolled back";
    throw_sql_error(std::move(f));
  }
  lease_.reset();
}

void Transaction::rollback() {
  if (!open_) return;
  open_ = false;
  if (conn_->is_open()) conn_->execute_script("ROLLBACK");
  lease_.reset();
}

Connection& Transaction::connection() { return *conn_; }

Savepoint Transaction::savepoint() {
  require_open("create a savepoint");
  std::string name = fmt::format("pgstack_sp_{}", ++savepoints_);
  conn_->execute_script("SAVEPOINT " + name);
  return Savepoint(*this, std::move(name));
}

Savepoint::Savepoint(Transaction& tx, std::string name) : tx_(&tx), name_(std::move(name)) {}

Savepoint::Savepoint(Savepoint&& other) noexcept
    : tx_(other.tx_), name_(std::move(other.name_)), active_(std::exchange(other.active_, false)) {}

Savepoint::~Savepoint() {
  if (!active_) return;
  try {
    rollback();
  } catch (...) {
  }
}

void Savepoint::release() {
  if (!active_) throw UsageError("savepoint already released or rolled back");
  active_ = false;
  tx_->execute_script("RELEASE SAVEPOINT " + name_);
}

void Savepoint::rollback() {
  if (!active_) return;
  active_ = false;
  if (tx_->is_open()) tx_->execute_script("ROLLBACK TO SAVEPOINT " + name_);
}

}  // namespace pgstack::pg
