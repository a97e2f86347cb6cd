#include "pgstack/pg/pool.h"

#include <fmt/format.h>

namespace pgstack::pg {

using Clock = std::chrono::steady_clock;

// A connection given back less than this long ago is lent again without the socket
// check: nothing the server does (a restart, pg_terminate_backend, an idle timeout)
// reaches the client that fast, and the check is a system call on every acquire -
// about a quarter of the system calls of a one-statement loan.
constexpr auto kRecentlyReturned = std::chrono::microseconds(100);

// The connection this thread gave back last, and to which pool. A thread that gets
// the same connection again talks to the same server process, which the kernel
// keeps on the CPU next to it; handing threads each other's connections makes every
// wake-up cross CPUs and halved the throughput of a two-thread loop on a 2-core VM
// (driver_bench: 22k/s against 49k/s for pgbench; 45k/s with this).
struct LastReturned {
  const void* pool = nullptr;
  const Connection* conn = nullptr;
};
thread_local LastReturned last_returned;

struct IdleConnection {
  std::unique_ptr<Connection> conn;
  Clock::time_point returned_at;
};

struct PoolEndpoint {
  std::string dsn;
  bool standby = false;
  std::vector<IdleConnection> idle;  // most recently returned last
  std::size_t total = 0;                          // idle + lent + being opened
  // Standbys only: what the last role/lag check found, and when.
  bool usable = true;
  double replay_lag_seconds = 0;
  Clock::time_point checked_at{};
};

struct PoolState {
  PoolOptions options;
  mutable std::mutex mu;
  std::condition_variable freed;
  std::vector<PoolEndpoint> endpoints;  // [0] primary, then standbys
  std::size_t waiting = 0;
  std::size_t next_standby = 0;
  std::uint64_t opened = 0;
  std::uint64_t discarded = 0;

  std::unique_ptr<Connection> open(std::size_t e) {
    auto conn = std::make_unique<Connection>(ConnectOptions{.dsn = endpoints[e].dsn,
                                                            .connect_timeout = options.connect_timeout,
                                                            .statement_cache = options.statement_cache,
                                                            .application_name = options.application_name,
                                                            .on_notice = options.on_notice});
    std::lock_guard lock(mu);
    ++opened;
    return conn;
  }

  void forget(std::size_t e) {
    std::lock_guard lock(mu);
    --endpoints[e].total;
    ++discarded;
    freed.notify_one();
  }

  // A returned connection goes back only if it is healthy and outside any transaction.
  void give_back(std::size_t e, std::unique_ptr<Connection> conn) {
    bool healthy = conn->is_open();
    if (healthy) {
      switch (conn->transaction_status()) {
        case TransactionStatus::idle:
          break;
        case TransactionStatus::in_transaction:
        case TransactionStatus::in_error:
          try {
            conn->execute_script("ROLLBACK");
          } catch (const Error&) {
            healthy = false;
          }
          break;
        default:  // a statement still running, or unknown: not safe to lend again
          healthy = false;
      }
    }
    if (!healthy) {
      conn.reset();
      forget(e);
      return;
    }
    const auto now = Clock::now();
    last_returned = {this, conn.get()};
    std::lock_guard lock(mu);
    endpoints[e].idle.push_back(IdleConnection{std::move(conn), now});
    if (waiting > 0) freed.notify_one();
  }

  // Borrows from endpoint e, opening a connection if under max_size; nullptr when
  // nothing came free before the deadline.
  std::unique_ptr<Connection> take(std::size_t e, Clock::time_point deadline) {
    std::unique_lock lock(mu);
    for (;;) {
      PoolEndpoint& ep = endpoints[e];
      if (!ep.idle.empty()) {
        auto pick = std::prev(ep.idle.end());  // the most recently returned, unless
        if (last_returned.pool == this)        // this thread's own is idle too
          for (auto it = ep.idle.begin(); it != ep.idle.end(); ++it)
            if (it->conn.get() == last_returned.conn) pick = it;
        auto conn = std::move(pick->conn);
        const bool recently_returned = Clock::now() - pick->returned_at < kRecentlyReturned;
        ep.idle.erase(pick);
        lock.unlock();
        // Catches connections the server closed while they sat idle (a restart),
        // so callers do not pay for them with an error.
        if (recently_returned || conn->is_alive()) return conn;
        conn.reset();
        lock.lock();
        --endpoints[e].total;
        ++discarded;
        continue;
      }
      if (ep.total < options.max_size) {
        ++ep.total;
        lock.unlock();
        try {
          return open(e);
        } catch (...) {
          lock.lock();
          --endpoints[e].total;
          freed.notify_one();
          throw;
        }
      }
      ++waiting;
      const bool woke = freed.wait_until(lock, deadline) == std::cv_status::no_timeout;
      --waiting;
      if (!woke && endpoints[e].idle.empty() && endpoints[e].total >= options.max_size) return nullptr;
    }
  }
};

PooledConnection::PooledConnection(std::shared_ptr<PoolState> pool, std::size_t endpoint,
                                   std::unique_ptr<Connection> conn)
    : pool_(std::move(pool)), endpoint_(endpoint), conn_(std::move(conn)) {}

PooledConnection::PooledConnection(PooledConnection&& other) noexcept
    : pool_(std::move(other.pool_)), endpoint_(other.endpoint_), conn_(std::move(other.conn_)) {}

PooledConnection& PooledConnection::operator=(PooledConnection&& other) noexcept {
  if (this != &other) {
    release();
    pool_ = std::move(other.pool_);
    endpoint_ = other.endpoint_;
    conn_ = std::move(other.conn_);
  }
  return *this;
}

PooledConnection::~PooledConnection() { release(); }

void PooledConnection::release() {
  if (pool_ && conn_) pool_->give_back(endpoint_, std::move(conn_));
  pool_.reset();
  conn_.reset();
}

Pool::Pool(PoolOptions options) : state_(std::make_shared<PoolState>()) {
  if (options.max_size == 0) throw UsageError("PoolOptions::max_size must be at least 1");
  validate_dsn(options.primary);
  state_->endpoints.push_back(PoolEndpoint{.dsn = options.primary});
  for (const auto& dsn : options.standbys) {
    validate_dsn(dsn);
    state_->endpoints.push_back(PoolEndpoint{.dsn = dsn, .standby = true});
  }
  state_->options = std::move(options);
}

Pool::~Pool() {
  std::lock_guard lock(state_->mu);
  for (auto& ep : state_->endpoints) {
    ep.total -= ep.idle.size();
    ep.idle.clear();
  }
}

const PoolOptions& Pool::options() const noexcept { return state_->options; }

namespace {

// Reads a standby's role and replay lag. Caught up (everything received is replayed)
// counts as no lag even when the primary has been idle for a while.
void check_standby(PoolState& s, std::size_t e, Connection& conn) {
  bool usable = false;
  double lag = 0;
  try {
    Result r = conn.query(
        "select pg_is_in_recovery(), coalesce(case when pg_last_wal_receive_lsn() is not distinct from "
        "pg_last_wal_replay_lsn() then 0 else extract(epoch from now() - pg_last_xact_replay_timestamp()) end, 0)"
        "::float8");
    const bool in_recovery = r[0].get<bool>(0);
    lag = r[0].get<double>(1);
    usable = in_recovery && lag * 1000.0 <= static_cast<double>(s.options.max_replay_lag.count());
  } catch (const Error&) {
    usable = false;
  }
  std::lock_guard lock(s.mu);
  s.endpoints[e].usable = usable;
  s.endpoints[e].replay_lag_seconds = lag;
  s.endpoints[e].checked_at = Clock::now();
}

}  // namespace

PooledConnection Pool::acquire(Route route) {
  PoolState& s = *state_;
  const auto deadline = Clock::now() + s.options.acquire_timeout;
  if (route == Route::read && s.endpoints.size() > 1) {
    const std::size_t standbys = s.endpoints.size() - 1;
    for (std::size_t tried = 0; tried < standbys; ++tried) {
      std::size_t e;
      bool stale;
      {
        std::lock_guard lock(s.mu);
        e = 1 + (s.next_standby++ % standbys);
        stale = Clock::now() - s.endpoints[e].checked_at >= s.options.lag_check_interval;
        if (!stale && !s.endpoints[e].usable) continue;
      }
      std::unique_ptr<Connection> conn;
      try {
        // A standby that is full or down must not stall reads: the primary serves them.
        conn = s.take(e, std::min(deadline, Clock::now() + std::chrono::milliseconds(100)));
      } catch (const ConnectionError&) {
        std::lock_guard lock(s.mu);
        s.endpoints[e].usable = false;
        s.endpoints[e].checked_at = Clock::now();
        continue;
      }
      if (!conn) continue;
      if (stale) check_standby(s, e, *conn);
      bool usable;
      {
        std::lock_guard lock(s.mu);
        usable = s.endpoints[e].usable;
      }
      if (usable) return PooledConnection(state_, e, std::move(conn));
      s.give_back(e, std::move(conn));
    }
  }
  auto conn = s.take(0, deadline);
  if (!conn) {
    std::lock_guard lock(s.mu);
    throw PoolTimeout(fmt::format(
        "no database connection came free within {} ms: all {} connections to the primary are in use and {} "
        "callers are waiting; raise PoolOptions::max_size, release connections sooner, or look for long transactions",
        s.options.acquire_timeout.count(), s.options.max_size, s.waiting));
  }
  return PooledConnection(state_, 0, std::move(conn));
}

Transaction Pool::begin(TransactionOptions options) { return Transaction(acquire(Route::primary), options); }

Transaction Pool::begin_read(TransactionOptions options) {
  options.read_only = true;
  return Transaction(acquire(Route::read), options);
}

PoolStats Pool::stats() const {
  std::lock_guard lock(state_->mu);
  PoolStats out;
  for (const auto& ep : state_->endpoints) {
    out.endpoints.push_back(PoolStats::Endpoint{.dsn = redact_dsn(ep.dsn),
                                                .standby = ep.standby,
                                                .usable = ep.usable,
                                                .replay_lag_seconds = ep.replay_lag_seconds,
                                                .idle = ep.idle.size(),
                                                .in_use = ep.total - ep.idle.size()});
  }
  out.connections_opened = state_->opened;
  out.connections_discarded = state_->discarded;
  out.waiting = state_->waiting;
  return out;
}

}  // namespace pgstack::pg
