// Pipeline-mode batches: many statements sent without waiting for each reply, then
// one sync, so a batch costs one network round trip. Without an enclosing transaction
// the batch is atomic (one implicit transaction); an error aborts the rest and throws.
// Statements use the connection's prepared-statement cache when it is on: a statement
// not yet prepared is prepared inside the same batch, so that costs no extra round trip.
//
//   pgstack::pg::Pipeline batch(conn);
//   for (auto& e : events) batch.add("insert into events(kind, body) values ($1, $2)", e.kind, e.body);
//   std::vector<Result> results = batch.run();
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "pgstack/pg/connection.h"
#include "pgstack/pg/params.h"
#include "pgstack/pg/result.h"

namespace pgstack::pg {

class Pipeline {
 public:
  explicit Pipeline(Connection& conn) : conn_(&conn) {}

  template <class... Args>
  std::size_t add(std::string_view sql, const Args&... args) {
    return add_params(sql, Params::of(args...));
  }
  std::size_t add_params(std::string_view sql, Params params);

  std::size_t size() const noexcept { return queued_.size(); }

  // Sends everything, then reads every reply in order. Clears the queue.
  std::vector<Result> run();

 private:
  struct Queued {
    std::string sql;
    Params params;
  };
  struct Attempt;
  // Sends the batch once and reads every reply; errors are reported in the Attempt.
  Attempt send_batch(const std::vector<Queued>& batch, bool use_cache);
  Connection* conn_;
  std::vector<Queued> queued_;
};

}  // namespace pgstack::pg
