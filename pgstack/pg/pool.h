// A bounded, thread-safe connection pool with routing: writes go to the primary,
// reads to a standby (found with pg_is_in_recovery()) whose replay lag is within a
// limit, else to the primary. Returned connections are health-checked; dead ones are
// replaced, so a server restart costs a caller at most one error per lost connection.
//
//   pgstack::pg::Pool pool({.primary = "postgresql://app@db1/app", .standbys = {"postgresql://app@db2/app"}});
//   auto tx = pool.begin();                       // on the primary
//   auto rows = pool.acquire(Route::read)->query("select * from products where id = $1", id);
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "pgstack/pg/connection.h"
#include "pgstack/pg/query_methods.h"
#include "pgstack/pg/transaction.h"

namespace pgstack::pg {

enum class Route { primary, read };

struct PoolOptions {
  std::string primary;                 // DSN of the primary
  std::vector<std::string> standbys;   // DSNs of hot standbys for Route::read
  std::size_t max_size = 16;           // connections per server, at most
  std::chrono::milliseconds acquire_timeout{5000};
  std::chrono::milliseconds connect_timeout{5000};
  // A standby whose replay lag exceeds this is skipped until it catches up.
  std::chrono::milliseconds max_replay_lag{10000};
  // How often a standby's role and lag are re-read (not on every acquire).
  std::chrono::milliseconds lag_check_interval{1000};
  // Off behind PgBouncer in transaction mode (see ConnectOptions::statement_cache).
  bool statement_cache = true;
  std::string application_name = "pgstack";
  // Passed to every connection (see ConnectOptions::on_notice); may run on any thread.
  std::function<void(const Notice&)> on_notice;
};

class Pool;

// A connection on loan from a Pool; goes back (health-checked) when destroyed.
class PooledConnection : public QueryMethods<PooledConnection> {
 public:
  PooledConnection(PooledConnection&&) noexcept;
  PooledConnection& operator=(PooledConnection&&) noexcept;
  PooledConnection(const PooledConnection&) = delete;
  ~PooledConnection();

  Result execute(std::string_view sql, const Params& params) { return conn_->execute(sql, params); }
  Connection& operator*() const { return *conn_; }
  Connection* operator->() const { return conn_.get(); }
  Connection& connection() const { return *conn_; }
  // True when the loan went to a standby.
  bool on_standby() const noexcept { return endpoint_ != 0; }
  void release();  // gives it back early

 private:
  friend class Pool;
  PooledConnection(std::shared_ptr<struct PoolState> pool, std::size_t endpoint, std::unique_ptr<Connection> conn);
  std::shared_ptr<struct PoolState> pool_;
  std::size_t endpoint_ = 0;
  std::unique_ptr<Connection> conn_;
};

struct PoolStats {
  struct Endpoint {
    std::string dsn;  // password redacted
    bool standby = false;
    bool usable = true;  // standby: reachable, in recovery, lag within limit
    double replay_lag_seconds = 0;
    std::size_t idle = 0;
    std::size_t in_use = 0;
  };
  std::vector<Endpoint> endpoints;  // [0] is the primary
  std::uint64_t connections_opened = 0;
  std::uint64_t connections_discarded = 0;  // failed a health check
  std::size_t waiting = 0;
};

class Pool {
 public:
  explicit Pool(PoolOptions options);
  ~Pool();
  Pool(const Pool&) = delete;

  // Blocks until a connection is free (or can be opened) or acquire_timeout passes.
  PooledConnection acquire(Route route = Route::primary);

  // A transaction on its own pooled connection, returned when the transaction ends.
  Transaction begin(TransactionOptions options = {});
  // A read-only transaction, on a standby when one is usable.
  Transaction begin_read(TransactionOptions options = {});

  // One statement on a connection borrowed for just that statement.
  template <class... Args>
  Result query(std::string_view sql, const Args&... args) {
    return acquire(Route::primary).execute(sql, Params::of(args...));
  }
  template <class... Args>
  Result read(std::string_view sql, const Args&... args) {
    return acquire(Route::read).execute(sql, Params::of(args...));
  }

  PoolStats stats() const;
  const PoolOptions& options() const noexcept;

 private:
  std::shared_ptr<struct PoolState> state_;
};

}  // namespace pgstack::pg
