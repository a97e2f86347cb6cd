#include "pgstack/ops/doctor/finding.h"

#include <algorithm>
#include <set>

#include <fmt/format.h>

namespace pgstack::doctor {

const char* to_string(Severity s) {
  switch (s) {
    case Severity::info: return "info";
    case Severity::warning: return "warning";
    case Severity::critical: return "critical";
  }
  return "?";
}

bool Report::has(const std::string& check, const std::string& server) const {
  return std::any_of(findings.begin(), findings.end(),
                     [&](const Finding& f) { return f.check == check && (server.empty() || f.server == server); });
}

Severity Report::worst() const {
  Severity w = Severity::info;
  for (const auto& f : findings) w = std::max(w, f.severity);
  return w;
}

int Report::exit_code() const {
  if (findings.empty()) return kExitHealthy;
  switch (worst()) {
    case Severity::critical: return kExitCritical;
    case Severity::warning: return kExitWarnings;
    case Severity::info: return kExitHealthy;
  }
  return kExitHealthy;
}

namespace {

const char* status_of(const Report& r) {
  switch (r.exit_code()) {
    case kExitCritical: return "critical";
    case kExitWarnings: return "warning";
    default: return "healthy";
  }
}

std::vector<const Finding*> worst_first(const Report& r) {
  std::vector<const Finding*> out;
  for (const auto& f : r.findings) out.push_back(&f);
  std::stable_sort(out.begin(), out.end(), [](const Finding* a, const Finding* b) { return a->severity > b->severity; });
  return out;
}

}  // namespace

nlohmann::json Report::to_json() const {
  nlohmann::json doc = {{"status", status_of(*this)}, {"exit_code", exit_code()}};
  auto& list = doc["findings"] = nlohmann::json::array();
  for (const auto* f : worst_first(*this))
    list.push_back({{"severity", to_string(f->severity)}, {"check", f->check}, {"server", f->server},
                    {"subject", f->subject}, {"what", f->what}, {"why", f->why}, {"fix", f->fix}});
  auto& ran = doc["checks"] = nlohmann::json::array();
  for (const auto& c : checks) ran.push_back({{"server", c.server}, {"check", c.check}});
  return doc;
}

std::string Report::to_text() const {
  std::string out;
  for (const auto* f : worst_first(*this)) {
    out += fmt::format("{:<8} {} [{}] {}: {}\n", to_string(f->severity), f->check, f->server, f->subject, f->what);
    if (!f->why.empty()) out += fmt::format("         why: {}\n", f->why);
    if (!f->fix.empty()) out += fmt::format("         fix: {}\n", f->fix);
  }
  std::set<std::string> servers;
  for (const auto& c : checks) servers.insert(c.server);
  std::size_t warnings = 0, critical = 0;
  for (const auto& f : findings) {
    if (f.severity == Severity::critical) ++critical;
    else if (f.severity == Severity::warning) ++warnings;
  }
  std::string names;
  for (const auto& s : servers) names += (names.empty() ? "" : ", ") + s;
  out += fmt::format("{}: {} checks on {}; {} critical, {} warnings, {} notes\n", status_of(*this), checks.size(),
                     names.empty() ? "nothing" : names, critical, warnings, findings.size() - critical - warnings);
  return out;
}

}  // namespace pgstack::doctor
