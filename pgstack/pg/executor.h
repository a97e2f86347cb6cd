// Where a workload's statements run: on a pool (each call takes a connection of its
// own, in a transaction of its own), or on the caller's connection or transaction, so
// the call commits or rolls back with the caller's own rows. Every workload that takes
// an Executor takes all four:
//
//   pgstack::ratelimit::Limiter{pool}.allow(key, limit);        // on its own
//
//   pgstack::pg::Transaction tx(conn);
//   tx.query("insert into orders (id) values ($1)", id);
//   pgstack::sessions::SessionStore{tx}.revoke_all(user_id);    // in the same transaction
//   tx.commit();
//
// Non-owning: what it refers to must outlive it (as with a reference).
#pragma once

#include <string_view>
#include <variant>

#include "pgstack/pg/connection.h"
#include "pgstack/pg/pool.h"
#include "pgstack/pg/query_methods.h"
#include "pgstack/pg/transaction.h"

namespace pgstack::pg {

class Executor : public QueryMethods<Executor> {
 public:
  // Implicit on purpose: a workload's constructor takes an Executor, and its caller
  // passes whichever of these it has, as it would pass a reference.
  Executor(Pool& pool) noexcept : target_(&pool) {}                     // NOLINT(google-explicit-constructor)
  Executor(Connection& conn) noexcept : target_(&conn) {}               // NOLINT(google-explicit-constructor)
  Executor(PooledConnection& conn) noexcept : target_(&conn) {}         // NOLINT(google-explicit-constructor)
  Executor(Transaction& tx) noexcept : target_(&tx) {}                  // NOLINT(google-explicit-constructor)

  // On a pool, on a primary connection of its own; otherwise on what was given.
  Result execute(std::string_view sql, const Params& params);

  // True when the statements run in a transaction of their own (a pool's).
  bool on_pool() const noexcept { return std::holds_alternative<Pool*>(target_); }

 private:
  std::variant<Pool*, Connection*, PooledConnection*, Transaction*> target_;
};

}  // namespace pgstack::pg
