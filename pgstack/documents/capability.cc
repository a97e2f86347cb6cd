// The documents capability as cli, doctor, metrics and advise see it (capability.h);
// registered by pgstack_capability() in this folder's CMakeLists.txt. Its SQL module
// and `pgstack docs ...` commands are named "docs", after the command users type.
#include "pgstack/capability/capability.h"

namespace pgstack::docs {

capability::Capability capability() {
  return {
      .name = "docs",
      .title = "documents",
      .marker = "pgstack.doc_collections",
      // pgstack.docs_health() falls back to the same values (sql/007_capability_contract.sql).
      .thresholds = {{.key = "doc_seq_scan_rows", .value = 10000, .min = 1, .max = 1e12, .integer = true},
                     {.key = "doc_toast_share", .value = 0.5, .min = 0, .max = 1}},
  };
}

}  // namespace pgstack::docs
