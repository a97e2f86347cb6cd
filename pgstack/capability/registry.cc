// capabilities() and what is read from it; the list itself is generated
// (builtin_capabilities.cc), so this file is compiled into pgstack_capabilities with it.
#include <fmt/format.h>

#include "pgstack/base/error.h"
#include "pgstack/capability/capability.h"

namespace pgstack::capability {

std::vector<Capability> builtin_capabilities();  // generated: builtin_capabilities.cc

const std::vector<Capability>& capabilities() {
  static const std::vector<Capability> all = builtin_capabilities();
  return all;
}

const Capability& find(std::string_view name) {
  for (const auto& c : capabilities())
    if (c.name == name) return c;
  throw UsageError(fmt::format("no capability is called '{}'", name));
}

std::vector<Threshold> all_thresholds() {
  std::vector<Threshold> out;
  for (const auto& c : capabilities()) out.insert(out.end(), c.thresholds.begin(), c.thresholds.end());
  return out;
}

}  // namespace pgstack::capability
