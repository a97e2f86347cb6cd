// Transactions as RAII objects: rolled back unless committed, with savepoints,
// isolation levels and a statement timeout that holds only inside the transaction
// (SET LOCAL, so it is safe behind a transaction-mode pooler).
//
//   pgstack::pg::Transaction tx(conn, {.isolation = IsolationLevel::serializable});
//   tx.query("update accounts set balance = balance - $1 where id = $2", amount, from);
//   tx.commit();   // leaving the scope without commit() rolls back
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "pgstack/pg/connection.h"
#include "pgstack/pg/query_methods.h"

namespace pgstack::pg {

class PooledConnection;

enum class IsolationLevel { read_committed, repeatable_read, serializable };

struct TransactionOptions {
  IsolationLevel isolation = IsolationLevel::read_committed;
  bool read_only = false;
  bool deferrable = false;  // serializable read only: wait for a safe snapshot
  std::optional<std::chrono::milliseconds> statement_timeout;
  std::optional<std::chrono::milliseconds> lock_timeout;
};

class Savepoint;

class Transaction : public QueryMethods<Transaction> {
 public:
  explicit Transaction(Connection& conn, TransactionOptions options = {});
  // Holds a pooled connection for the transaction's life and returns it at the end.
  explicit Transaction(PooledConnection lease, TransactionOptions options = {});
  Transaction(Transaction&&) noexcept;
  Transaction& operator=(Transaction&&) = delete;
  ~Transaction();

  Result execute(std::string_view sql, const Params& params);
  void execute_script(std::string_view sql);

  void commit();
  void rollback();
  bool is_open() const noexcept { return open_; }

  // A nested scope that rolls back to its start unless released.
  Savepoint savepoint();

  Connection& connection();

 private:
  void begin(const TransactionOptions& options);
  void require_open(const char* what) const;

  std::unique_ptr<PooledConnection> lease_;
  Connection* conn_;
  bool open_ = false;
  int savepoints_ = 0;
  friend class Savepoint;
};

class Savepoint : public QueryMethods<Savepoint> {
 public:
  Savepoint(Savepoint&&) noexcept;
  Savepoint& operator=(Savepoint&&) = delete;
  ~Savepoint();  // rolls back to the savepoint unless released

  Result execute(std::string_view sql, const Params& params) { return tx_->execute(sql, params); }
  void release();
  void rollback();

 private:
  Savepoint(Transaction& tx, std::string name);
  Transaction* tx_;
  std::string name_;
  bool active_ = true;
  friend class Transaction;
};

}  // namespace pgstack::pg
