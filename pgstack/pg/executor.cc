#include "pgstack/pg/executor.h"

namespace pgstack::pg {

Result Executor::execute(std::string_view sql, const Params& params) {
  return std::visit(
      [&](auto* target) -> Result {
        if constexpr (std::is_same_v<decltype(target), Pool*>) return target->acquire(Route::primary).execute(sql, params);
        else return target->execute(sql, params);
      },
      target_);
}

}  // namespace pgstack::pg
