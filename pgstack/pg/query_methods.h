// The query vocabulary shared by Connection, Transaction and PooledConnection, so each
// reads the same: query() for rows, query_value() for one value, query_optional() when
// absence is expected, execute() for a prepared Params.
//
//   auto n = tx.query_value<std::int64_t>("select count(*) from jobs where queue = $1", queue);
//   auto name = conn.query_optional<std::string>("select name from users where id = $1", id);
#pragma once

#include <optional>
#include <string_view>

#include "pgstack/pg/params.h"
#include "pgstack/pg/result.h"

namespace pgstack::pg {

namespace detail {
// Checks the shape of a result that must hold one value; throws UsageError otherwise.
void expect_single_value(const Result& r, std::string_view sql, bool allow_empty);
}  // namespace detail

// Self must provide: Result execute(std::string_view sql, const Params& params).
template <class Self>
class QueryMethods {
 public:
  template <class... Args>
  Result query(std::string_view sql, const Args&... args) {
    return self().execute(sql, Params::of(args...));
  }

  // Exactly one row with one column; its value as T (std::optional<T> if it may be NULL).
  template <class T, class... Args>
  T query_value(std::string_view sql, const Args&... args) {
    Result r = self().execute(sql, Params::of(args...));
    detail::expect_single_value(r, sql, false);
    return r[0].template get<T>(0);
  }

  // Zero or one row with one column; nullopt when there is no row (or the value is NULL).
  template <class T, class... Args>
  std::optional<T> query_optional(std::string_view sql, const Args&... args) {
    Result r = self().execute(sql, Params::of(args...));
    detail::expect_single_value(r, sql, true);
    if (r.empty()) return std::nullopt;
    return r[0].template get<std::optional<T>>(0);
  }

 private:
  Self& self() { return static_cast<Self&>(*this); }
};

}  // namespace pgstack::pg
