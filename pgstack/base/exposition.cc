#include "pgstack/base/exposition.h"

#include <cmath>

#include <fmt/format.h>

#include "pgstack/base/error.h"

namespace pgstack {

std::string escape_label(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

Exposition::Family& Exposition::find(std::string_view name) {
  if (auto it = index_.find(std::string(name)); it != index_.end()) return families_[it->second];
  throw UsageError(fmt::format("metric family {} was not declared", name));
}

void Exposition::family(std::string_view name, std::string_view type, std::string_view help) {
  if (!index_.emplace(std::string(name), families_.size()).second) return;  // declared already
  families_.push_back({std::string(name), std::string(type), std::string(help), {}});
}

void Exposition::sample(std::string_view name, const Labels& labels, double value) {
  auto& f = find(name);
  std::string line(name);
  if (!labels.empty()) {
    line += '{';
    for (std::size_t i = 0; i < labels.size(); ++i)
      line += fmt::format("{}{}=\"{}\"", i ? "," : "", labels[i].first, escape_label(labels[i].second));
    line += '}';
  }
  if (std::isnan(value)) line += " NaN";
  else if (std::isinf(value)) line += value > 0 ? " +Inf" : " -Inf";
  else if (value == std::floor(value) && std::fabs(value) < 1e15) line += fmt::format(" {:.0f}", value);
  else line += fmt::format(" {}", value);
  f.lines.push_back(std::move(line));
}

void Exposition::merge(Exposition&& other) {
  for (auto& of : other.families_) {
    family(of.name, of.type, of.help);
    auto& f = find(of.name);
    f.lines.insert(f.lines.end(), std::make_move_iterator(of.lines.begin()), std::make_move_iterator(of.lines.end()));
  }
  other.families_.clear();
  other.index_.clear();
}

std::string Exposition::text() const {
  std::string out;
  for (const auto& f : families_) {
    if (f.lines.empty()) continue;
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", f.name, f.help, f.name, f.type);
    for (const auto& l : f.lines) (out += l) += '\n';
  }
  return out;
}

std::size_t Exposition::samples() const {
  std::size_t n = 0;
  for (const auto& f : families_) n += f.lines.size();
  return n;
}

}  // namespace pgstack
