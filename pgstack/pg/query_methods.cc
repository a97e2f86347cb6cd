#include "pgstack/pg/query_methods.h"

#include <fmt/format.h>

namespace pgstack::pg::detail {

void expect_single_value(const Result& r, std::string_view sql, bool allow_empty) {
  const auto shorten = [](std::string_view s) {
    return s.size() > 80 ? std::string(s.substr(0, 77)) + "..." : std::string(s);
  };
  if (r.columns() != 1)
    throw UsageError(fmt::format("expected one column, got {} from: {}", r.columns(), shorten(sql)));
  if (r.rows() > 1 || (r.rows() == 0 && !allow_empty))
    throw UsageError(fmt::format("expected {}one row, got {} from: {}{}", allow_empty ? "at most " : "", r.rows(),
                                 shorten(sql), r.rows() == 0 ? " (use query_optional when absence is expected)" : ""));
}

}  // namespace pgstack::pg::detail
