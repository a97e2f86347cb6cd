// The kv capability as cli, doctor, metrics and advise see it (capability.h);
// registered by pgstack_capability() in this folder's CMakeLists.txt.
#include "pgstack/capability/capability.h"

namespace pgstack::kv {

capability::Capability capability() {
  return {
      .name = "kv",
      .title = "the kv store",
      .marker = "pgstack.kv_namespaces",
      .thresholds = {
          // pgstack.kv_health(): kv_bloat, the dead share of a namespace's table.
          {.key = "kv_dead_ratio", .value = 0.50, .min = 0, .max = 1},
      },
  };
}

}  // namespace pgstack::kv
