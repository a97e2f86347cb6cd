// The sessions capability as cli, doctor, metrics and advise see it (capability.h);
// registered by pgstack_capability() in this folder's CMakeLists.txt.
#include "pgstack/capability/capability.h"

namespace pgstack::sessions {

capability::Capability capability() {
  return {
      .name = "sessions",
      .title = "the sessions store",
      .marker = "pgstack.sessions",
  };
}

}  // namespace pgstack::sessions
