// Feature flags' rule configurations as the in-process evaluator reads them
// (pgstack/flags/evaluator.h). pgstack.flag_set checks a configuration before storing it,
// but a hand-made row bypasses that, and the evaluator promises that such a row makes
// only its own flag throw. The input is three lines: the configuration (JSON), the
// context's attributes (JSON) and the subject. Beyond not crashing: from_rows never
// throws; evaluating throws nothing but UsageError, in pgstack's words; a value served is
// the off value, the default or one a rule names; is_enabled and variant agree with it.
#include "fuzz/fuzz_support.h"
#include "pgstack/flags/evaluator.h"
#include "pgstack/pg/errors.h"

using namespace pgstack::flags;
using nlohmann::json;
using pgstack::fuzz::require;

namespace {

std::string_view next_line(std::string_view& text) {
  const auto nl = text.find('\n');
  const auto line = text.substr(0, nl);
  text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
  return line;
}

// Every value the configuration could serve: the off value, the default, rules' serve
// and split values.
bool could_serve(const json& config, const Snapshot::Row& row, const json& value) {
  if (value == row.off_value) return true;
  if (row.kind == "boolean" && value == json(true)) return true;  // enabled, no rules, no default: on
  if (config.is_object()) {
    if (auto d = config.find("default"); d != config.end() && *d == value) return true;
    if (auto rules = config.find("rules"); rules != config.end())
      for (const auto& r : *rules) {
        if (!r.is_object()) continue;
        if (auto s = r.find("serve"); s != r.end() && *s == value) return true;
        if (auto split = r.find("split"); split != r.end())
          for (const auto& part : *split)
            if (part.is_object() && part.contains("value") && part["value"] == value) return true;
      }
  }
  return false;
}

void evaluate(const Snapshot& snapshot, const json& config, const Snapshot::Row& row, const Context& who,
              std::string_view input) {
  Evaluation e;
  try {
    e = snapshot.evaluate(row.key, who);
  } catch (const pgstack::pg::UsageError& error) {
    pgstack::fuzz::require_clear_message(error.what(), "flags: ", input);
    return;
  }
  require(could_serve(config, row, e.value), "served a value the configuration does not name", e.value.dump());
  require(!e.reason.empty(), "an evaluation without a reason");
  const bool on = snapshot.is_enabled(row.key, who);
  if (row.kind == "boolean") require(on == (e.value == json(true)), "is_enabled disagrees with evaluate");
  else require(on == (e.value != row.off_value), "is_enabled disagrees with evaluate");
  const std::string v = snapshot.variant(row.key, who);
  require(v == (e.value.is_string() ? e.value.get<std::string>() : e.value.dump()), "variant disagrees with evaluate");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > 4096) return 0;
  const auto raw = pgstack::fuzz::as_text(data, size);
  auto input = raw;
  const json config = json::parse(next_line(input), nullptr, false);
  json attributes = json::parse(next_line(input), nullptr, false);
  if (config.is_discarded()) return 0;
  if (attributes.is_discarded()) attributes = json::object();
  const Context who{.subject = std::string(input), .attributes = attributes};
  for (const auto& [kind, off] : {std::pair{"boolean", json(false)}, std::pair{"variant", json("off")}}) {
    const Snapshot::Row row{.key = "checkout.new-flow", .kind = kind, .off_value = off, .config = config, .version = 1};
    std::shared_ptr<const Snapshot> snapshot;
    try {
      snapshot = Snapshot::from_rows({row});
    } catch (...) {
      pgstack::fuzz::fail("from_rows threw", config.dump());
    }
    evaluate(*snapshot, config, row, who, raw);
  }
  return 0;
}
