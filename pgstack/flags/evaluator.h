// Evaluating feature flags in process, from a snapshot of their configuration: the
// same rules and the same rollout hash as pgstack.flag_evaluate in SQL, so a subject
// gets one answer whichever side asks. FlagClient keeps a snapshot current; this file
// is the pure part, with no database.
//
//   auto snapshot = pgstack::flags::Snapshot::from_rows(rows);     // see FlagClient
//   pgstack::flags::Context who{.subject = "user-42", .attributes = {{"country", "DE"}}};
//   bool on = snapshot->is_enabled("checkout.new-flow", who);
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <functional>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

namespace pgstack::flags {

// Who a flag is evaluated for: the subject's key drives percentage rollouts, the
// attributes the rules' constraints.
struct Context {
  std::string subject;
  nlohmann::json attributes = nlohmann::json::object();
};

struct Evaluation {
  nlohmann::json value;
  std::string reason;  // no_config, disabled, rule N, rule N split, default (as in SQL)
};

// The rollout bucket, 0..99999 (steps of 0.001%); pgstack.flag_bucket in SQL.
std::uint32_t bucket(std::string_view flag, std::string_view subject);
// -1, 0, 1, or nullopt when either is not a semantic version; pgstack.flag_semver_compare.
std::optional<int> semver_compare(std::string_view a, std::string_view b);

enum class Op {
  equals, not_equals, in, not_in, contains, starts_with, ends_with,
  lt, lte, gt, gte, semver_eq, semver_lt, semver_lte, semver_gt, semver_gte,
};

struct Constraint {
  std::string attribute;
  Op op = Op::equals;
  nlohmann::json value;                // every op but in / not_in
  std::vector<nlohmann::json> values;  // in / not_in
  double number = 0;                   // lt .. gte
};

struct Rule {
  std::vector<Constraint> when;
  std::optional<nlohmann::json> serve;
  std::optional<std::uint32_t> percentage_threshold;             // buckets below it are in
  std::vector<std::pair<nlohmann::json, std::uint32_t>> split;   // value, cumulative threshold
};

struct CompiledFlag {
  std::string key;
  bool boolean = true;
  nlohmann::json off_value;
  bool configured = false;  // has a configuration in the environment
  bool enabled = false;
  std::vector<Rule> rules;
  std::optional<nlohmann::json> default_value;
  std::int64_t version = 0;
  // Why its configuration could not be read (only a hand-made row that bypassed the
  // checks); evaluating the flag then throws. The other flags are unaffected.
  std::string unreadable;
};

struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};
using FlagMap = std::unordered_map<std::string, CompiledFlag, StringHash, std::equal_to<>>;

class Snapshot {
 public:
  // One row of pgstack.flag_snapshot(environment) each. A configuration it cannot read
  // (flag_set and a trigger refuse them) makes only that flag throw when evaluated.
  struct Row {
    std::string key;
    std::string kind;
    nlohmann::json off_value;
    std::optional<nlohmann::json> config;
    std::int64_t version = 0;
  };
  static std::shared_ptr<const Snapshot> from_rows(const std::vector<Row>& rows);

  // Throws pgstack::pg::UsageError for an unknown flag, as SQL raises 42704.
  Evaluation evaluate(std::string_view flag, const Context& context) const;
  // A boolean flag's value; for a variant flag, whether it serves something other
  // than its off value.
  bool is_enabled(std::string_view flag, const Context& context) const;
  // A variant flag's value (a boolean flag's as "true" / "false").
  std::string variant(std::string_view flag, const Context& context) const;

  const FlagMap& flags() const noexcept { return flags_; }

 private:
  const CompiledFlag& find(std::string_view flag) const;
  // The served value (pointing into the snapshot) and the reason's rule number.
  const nlohmann::json& serve(const CompiledFlag& f, const Context& context, std::string* reason) const;

  FlagMap flags_;
};

}  // namespace pgstack::flags
