// The ratelimit capability as cli, doctor, metrics and advise see it (capability.h);
// registered by pgstack_capability() in this folder's CMakeLists.txt.
#include "pgstack/capability/capability.h"

namespace pgstack::ratelimit {

capability::Capability capability() {
  return {
      .name = "ratelimit",
      .title = "rate limits",
      .marker = "pgstack.rate_limits",
  };
}

}  // namespace pgstack::ratelimit
