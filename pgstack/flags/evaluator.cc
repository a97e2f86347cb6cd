#include "pgstack/flags/evaluator.h"

#include <fmt/format.h>

#include <cmath>
#include <regex>

#include "pgstack/pg/errors.h"

namespace pgstack::flags {

namespace {

constexpr std::uint32_t kFnvOffset = 2166136261u;
constexpr std::uint32_t kFnvPrime = 16777619u;

std::uint32_t fnv(std::uint32_t h, std::string_view bytes) {
  for (unsigned char c : bytes) h = (h ^ c) * kFnvPrime;
  return h;
}

std::uint32_t finish(std::uint32_t h) {
  h ^= h >> 16;
  h *= 2146121005u;  // 0x7feb352d
  h ^= h >> 15;
  return static_cast<std::uint32_t>((static_cast<std::uint64_t>(h) * 100000u) >> 32);
}

// A share (percentage or weight, 0..100 with at most 3 decimals) in buckets.
std::uint32_t share_to_buckets(const nlohmann::json& share) {
  return static_cast<std::uint32_t>(std::llround(share.get<double>() * 1000.0));
}

Op parse_op(const std::string& op) {
  static const std::unordered_map<std::string, Op> kOps = {
      {"equals", Op::equals}, {"not_equals", Op::not_equals}, {"in", Op::in}, {"not_in", Op::not_in},
      {"contains", Op::contains}, {"starts_with", Op::starts_with}, {"ends_with", Op::ends_with},
      {"lt", Op::lt}, {"lte", Op::lte}, {"gt", Op::gt}, {"gte", Op::gte},
      {"semver_eq", Op::semver_eq}, {"semver_lt", Op::semver_lt}, {"semver_lte", Op::semver_lte},
      {"semver_gt", Op::semver_gt}, {"semver_gte", Op::semver_gte}};
  auto it = kOps.find(op);
  if (it == kOps.end()) throw pg::UsageError(fmt::format("flags: unknown op '{}' in a stored configuration", op));
  return it->second;
}

// The ops whose value constraint_holds reads as a string.
bool compares_text(Op op) {
  return op == Op::starts_with || op == Op::ends_with || op == Op::semver_eq || op == Op::semver_lt ||
         op == Op::semver_lte || op == Op::semver_gt || op == Op::semver_gte;
}

bool is_digits(std::string_view s) {
  return !s.empty() && s.find_first_not_of("0123456789") == std::string_view::npos;
}

// Decimal strings of any length, compared as numbers.
int compare_numeric(std::string_view a, std::string_view b) {
  auto strip = [](std::string_view s) {
    const auto first = s.find_first_not_of('0');
    return first == std::string_view::npos ? std::string_view("0") : s.substr(first);
  };
  a = strip(a);
  b = strip(b);
  if (a.size() != b.size()) return a.size() < b.size() ? -1 : 1;
  const int c = a.compare(b);
  return c < 0 ? -1 : c > 0 ? 1 : 0;
}

std::vector<std::string_view> split_dots(std::string_view s) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  while (true) {
    const auto dot = s.find('.', start);
    parts.push_back(s.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start));
    if (dot == std::string_view::npos) return parts;
    start = dot + 1;
  }
}

bool constraint_holds(const Constraint& c, const nlohmann::json& attributes) {
  if (!attributes.is_object()) return false;
  auto found = attributes.find(c.attribute);
  if (found == attributes.end() || found->is_null()) return false;
  const nlohmann::json& a = *found;
  switch (c.op) {
    case Op::equals: return a == c.value;
    case Op::not_equals: return a != c.value;
    case Op::in:
    case Op::not_in: {
      bool member = false;
      for (const auto& v : c.values)
        if (v == a) {
          member = true;
          break;
        }
      return c.op == Op::in ? member : !member;
    }
    case Op::contains:
      if (a.is_string() && c.value.is_string())
        return a.get_ref<const std::string&>().find(c.value.get_ref<const std::string&>()) != std::string::npos;
      if (a.is_array()) {
        for (const auto& e : a)
          if (e == c.value) return true;
      }
      return false;
    case Op::starts_with:
      return a.is_string() && a.get_ref<const std::string&>().starts_with(c.value.get_ref<const std::string&>());
    case Op::ends_with:
      return a.is_string() && a.get_ref<const std::string&>().ends_with(c.value.get_ref<const std::string&>());
    case Op::lt:
    case Op::lte:
    case Op::gt:
    case Op::gte: {
      if (!a.is_number()) return false;
      const double x = a.get<double>();
      return c.op == Op::lt ? x < c.number : c.op == Op::lte ? x <= c.number : c.op == Op::gt ? x > c.number : x >= c.number;
    }
    case Op::semver_eq:
    case Op::semver_lt:
    case Op::semver_lte:
    case Op::semver_gt:
    case Op::semver_gte: {
      if (!a.is_string()) return false;
      auto cmp = semver_compare(a.get_ref<const std::string&>(), c.value.get_ref<const std::string&>());
      if (!cmp) return false;
      switch (c.op) {
        case Op::semver_eq: return *cmp == 0;
        case Op::semver_lt: return *cmp < 0;
        case Op::semver_lte: return *cmp <= 0;
        case Op::semver_gt: return *cmp > 0;
        default: return *cmp >= 0;
      }
    }
  }
  return false;
}

// nlohmann's messages start with "[json.exception.out_of_range.403] "; the rest ("key
// 'enabled' not found") is what a user can act on.
std::string_view without_library_prefix(std::string_view what) {
  if (what.starts_with("[json.exception."))
    if (auto end = what.find("] "); end != std::string_view::npos) what.remove_prefix(end + 2);
  return what;
}

Rule compile_rule(const nlohmann::json& r) {
  Rule rule;
  if (auto when = r.find("when"); when != r.end()) {
    for (const auto& c : *when) {
      Constraint constraint;
      constraint.attribute = c.at("attribute").get<std::string>();
      constraint.op = parse_op(c.at("op").get<std::string>());
      if (constraint.op == Op::in || constraint.op == Op::not_in) {
        for (const auto& v : c.at("values")) constraint.values.push_back(v);
      } else {
        constraint.value = c.at("value");
        if (constraint.value.is_number()) constraint.number = constraint.value.get<double>();
        if (compares_text(constraint.op) && !constraint.value.is_string())
          throw pg::UsageError(fmt::format("op '{}' needs a string value, not {}", c.at("op").get<std::string>(),
                                           constraint.value.dump()));
      }
      rule.when.push_back(std::move(constraint));
    }
  }
  if (auto split = r.find("split"); split != r.end()) {
    // serve() reads a split rule's values only: without any it would have nothing to serve.
    if (!split->is_array() || split->empty()) throw pg::UsageError("a split must be a non-empty array of {\"value\", \"weight\"}");
    std::uint32_t cumulative = 0;
    for (const auto& part : *split) {
      cumulative += share_to_buckets(part.at("weight"));
      rule.split.emplace_back(part.at("value"), cumulative);
    }
  } else {
    rule.serve = r.at("serve");
    if (auto p = r.find("percentage"); p != r.end()) rule.percentage_threshold = share_to_buckets(*p);
  }
  return rule;
}

}  // namespace

std::uint32_t bucket(std::string_view flag, std::string_view subject) {
  return finish(fnv(fnv(fnv(kFnvOffset, flag), ":"), subject));
}

std::optional<int> semver_compare(std::string_view a, std::string_view b) {
  static const std::regex kPattern(
      R"(^v?(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$)");
  std::match_results<std::string_view::const_iterator> ma, mb;
  if (!std::regex_match(a.begin(), a.end(), ma, kPattern) || !std::regex_match(b.begin(), b.end(), mb, kPattern))
    return std::nullopt;
  auto view = [](const auto& m, int i) { return std::string_view(m[i].first, static_cast<std::size_t>(m[i].length())); };
  for (int i = 1; i <= 3; ++i)
    if (int c = compare_numeric(view(ma, i), view(mb, i)); c != 0) return c;
  const bool pre_a = ma[4].matched, pre_b = mb[4].matched;
  if (!pre_a && !pre_b) return 0;
  if (!pre_a) return 1;
  if (!pre_b) return -1;
  auto pa = split_dots(view(ma, 4)), pb = split_dots(view(mb, 4));
  for (std::size_t i = 0; i < std::min(pa.size(), pb.size()); ++i) {
    const bool na = is_digits(pa[i]), nb = is_digits(pb[i]);
    if (na && nb) {
      if (int c = compare_numeric(pa[i], pb[i]); c != 0) return c;
    } else if (na) {
      return -1;
    } else if (nb) {
      return 1;
    } else if (int c = pa[i].compare(pb[i]); c != 0) {
      return c < 0 ? -1 : 1;
    }
  }
  return pa.size() == pb.size() ? 0 : pa.size() < pb.size() ? -1 : 1;
}

std::shared_ptr<const Snapshot> Snapshot::from_rows(const std::vector<Row>& rows) {
  auto snapshot = std::make_shared<Snapshot>();
  for (const auto& row : rows) {
    CompiledFlag f;
    f.key = row.key;
    f.boolean = row.kind == "boolean";
    f.off_value = row.off_value;
    f.version = row.version;
    if (row.config) {
      const auto& config = *row.config;
      try {
        f.configured = true;
        f.enabled = config.at("enabled").get<bool>();
        if (auto d = config.find("default"); d != config.end()) f.default_value = *d;
        if (auto rules = config.find("rules"); rules != config.end())
          for (const auto& r : *rules) f.rules.push_back(compile_rule(r));
        // As in SQL: without a default, an enabled boolean flag with no rules is on for
        // everyone; with rules, whoever no rule serves gets the off value.
        if (!f.default_value) f.default_value = f.boolean && f.rules.empty() ? nlohmann::json(true) : f.off_value;
      } catch (const std::exception& e) {
        f.rules.clear();
        f.unreadable = fmt::format(
            "flags: the configuration of {} cannot be read ({}); it did not come through pgstack.flag_set, which "
            "checks it: set the flag again with `pgstack flags set` or pgstack.flag_set",
            row.key, without_library_prefix(e.what()));
      }
    }
    snapshot->flags_.emplace(f.key, std::move(f));
  }
  return snapshot;
}

const CompiledFlag& Snapshot::find(std::string_view flag) const {
  auto it = flags_.find(flag);
  if (it == flags_.end())
    throw pg::UsageError(fmt::format("flags: flag '{}' does not exist; pgstack flags list shows the flags", flag));
  if (!it->second.unreadable.empty()) throw pg::UsageError(it->second.unreadable);
  return it->second;
}

const nlohmann::json& Snapshot::serve(const CompiledFlag& f, const Context& context, std::string* reason) const {
  if (!f.configured || !f.enabled) {
    if (reason) *reason = f.configured ? "disabled" : "no_config";
    return f.off_value;
  }
  std::optional<std::uint32_t> b;  // hashed only when a rule needs it
  auto subject_bucket = [&] {
    if (!b) b = bucket(f.key, context.subject);
    return *b;
  };
  for (std::size_t i = 0; i < f.rules.size(); ++i) {
    const Rule& rule = f.rules[i];
    bool matches = true;
    for (const auto& c : rule.when)
      if (!constraint_holds(c, context.attributes)) {
        matches = false;
        break;
      }
    if (!matches) continue;
    if (!rule.split.empty()) {
      const auto at = subject_bucket();
      for (const auto& [value, threshold] : rule.split)
        if (at < threshold) {
          if (reason) *reason = fmt::format("rule {} split", i + 1);
          return value;
        }
      continue;  // weights always add up to 100: not reached
    }
    if (rule.percentage_threshold && subject_bucket() >= *rule.percentage_threshold) continue;
    if (reason) *reason = fmt::format("rule {}", i + 1);
    return *rule.serve;
  }
  if (reason) *reason = "default";
  return f.default_value ? *f.default_value : f.off_value;
}

Evaluation Snapshot::evaluate(std::string_view flag, const Context& context) const {
  Evaluation out;
  out.value = serve(find(flag), context, &out.reason);
  return out;
}

bool Snapshot::is_enabled(std::string_view flag, const Context& context) const {
  const CompiledFlag& f = find(flag);
  const nlohmann::json& v = serve(f, context, nullptr);
  if (f.boolean) return v.is_boolean() && v.get<bool>();
  return v != f.off_value;
}

std::string Snapshot::variant(std::string_view flag, const Context& context) const {
  const nlohmann::json& v = serve(find(flag), context, nullptr);
  return v.is_string() ? v.get<std::string>() : v.dump();
}

}  // namespace pgstack::flags
