// Lives in pgstack_modules beside the generated registry, so pgstack_schema itself
// does not depend on which modules a binary embeds.
#include "pgstack/schema/builtin_modules.h"
#include "pgstack/schema/migration_runner.h"

namespace pgstack::schema {

std::vector<Module> builtin_module_list() { return modules_from_embedded(builtin_modules()); }

}  // namespace pgstack::schema
