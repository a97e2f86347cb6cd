// The flags capability as cli, doctor, metrics and advise see it (capability.h);
// registered by pgstack_capability() in this folder's CMakeLists.txt.
#include "pgstack/capability/capability.h"

namespace pgstack::flags {

capability::Capability capability() {
  return {
      .name = "flags",
      .title = "feature flags",
      .marker = "pgstack.flags",
  };
}

}  // namespace pgstack::flags
