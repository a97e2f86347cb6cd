// The pubsub capability as cli, doctor, metrics and advise see it (capability.h);
// registered by pgstack_capability() in this folder's CMakeLists.txt.
#include "pgstack/capability/capability.h"

namespace pgstack::pubsub {

capability::Capability capability() {
  return {
      .name = "pubsub",
      .title = "pubsub",
      .marker = "pgstack.pubsub_messages",
  };
}

}  // namespace pgstack::pubsub
