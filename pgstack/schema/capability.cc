// The core module as cli, doctor, metrics and advise see it (capability.h): schema
// pgstack, the migration ledger and housekeeping (pgstack.maintain()). Registered by
// pgstack_capability() in this folder's CMakeLists.txt; every other capability needs it.
#include "pgstack/capability/capability.h"

namespace pgstack::core {

capability::Capability capability() {
  return {.name = "core", .title = "pgstack's core schema", .marker = "pgstack.maintenance_tasks"};
}

}  // namespace pgstack::core
