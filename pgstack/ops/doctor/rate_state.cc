#include "pgstack/ops/doctor/rate_state.h"

#include <unistd.h>

#include <cstdlib>
#include <fstream>

#include <nlohmann/json.hpp>

#include "pgstack/base/files.h"

namespace pgstack::doctor {

namespace {

// The snapshots of a state file; throws nlohmann::json::exception for a field of the wrong type.
std::map<std::string, std::vector<ServerCounters>> read_snapshots(const nlohmann::json& doc) {
  std::map<std::string, std::vector<ServerCounters>> snapshots;
  for (const auto& [key, list] : doc.items()) {
    if (!list.is_array()) continue;
    for (const auto& s : list) {
      if (!s.is_object()) continue;
      ServerCounters c;
      c.at = s.value("at", 0.0);
      c.checkpoints_timed = s.value("checkpoints_timed", std::int64_t{0});
      c.checkpoints_requested = s.value("checkpoints_requested", std::int64_t{0});
      if (auto b = s.find("blocks"); b != s.end() && b->is_object())
        for (const auto& [db, pair] : b->items())
          if (pair.is_array() && pair.size() == 2) c.blocks[db] = {pair[0].get<std::int64_t>(), pair[1].get<std::int64_t>()};
      snapshots[key].push_back(std::move(c));
    }
  }
  return snapshots;
}

}  // namespace

RateState::RateState(std::filesystem::path file) : file_(std::move(file)) {
  auto text = pgstack::read_text_file_if_readable(file_.string());
  if (!text) return;
  auto doc = nlohmann::json::parse(*text, nullptr, false);
  // A damaged file costs one window, not the run: text that is not JSON, or a field of
  // the wrong type ("at": "noon").
  if (!doc.is_object()) return;
  try {
    snapshots_ = read_snapshots(doc);
  } catch (const nlohmann::json::exception&) {
  }
}

std::optional<ServerCounters> RateState::baseline(const std::string& key, double now, double window) const {
  auto it = snapshots_.find(key);
  if (it == snapshots_.end() || it->second.empty()) return std::nullopt;
  const ServerCounters* newest_before = nullptr;
  for (const auto& s : it->second) {
    if (s.at >= now - window && s.at <= now) return s;  // oldest first: the first inside is the oldest
    if (s.at < now - window) newest_before = &s;
  }
  if (newest_before) return *newest_before;
  return std::nullopt;
}

void RateState::record(const std::string& key, ServerCounters counters, double window) {
  auto& list = snapshots_[key];
  const double now = counters.at;
  list.push_back(std::move(counters));
  // Keep every snapshot inside the window and the newest one before it.
  std::size_t first_inside = 0;
  while (first_inside < list.size() && list[first_inside].at < now - window) ++first_inside;
  if (first_inside > 1) list.erase(list.begin(), list.begin() + static_cast<std::ptrdiff_t>(first_inside - 1));
}

bool RateState::save() const {
  if (file_.empty()) return false;
  nlohmann::json doc = nlohmann::json::object();
  for (const auto& [key, list] : snapshots_) {
    auto& out = doc[key] = nlohmann::json::array();
    for (const auto& s : list) {
      nlohmann::json blocks = nlohmann::json::object();
      for (const auto& [db, pair] : s.blocks) blocks[db] = {pair.first, pair.second};
      out.push_back({{"at", s.at},
                     {"checkpoints_timed", s.checkpoints_timed},
                     {"checkpoints_requested", s.checkpoints_requested},
                     {"blocks", blocks}});
    }
  }
  std::error_code ec;
  std::filesystem::create_directories(file_.parent_path(), ec);
  auto tmp = file_;
  tmp += ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(tmp);
    if (!(out << doc.dump())) return false;
  }
  std::filesystem::rename(tmp, file_, ec);
  if (ec) std::filesystem::remove(tmp, ec);
  return !ec;
}

std::filesystem::path default_state_file() {
  if (const char* xdg = std::getenv("XDG_STATE_HOME"); xdg && *xdg)
    return std::filesystem::path(xdg) / "pgstack" / "doctor-state.json";
  if (const char* home = std::getenv("HOME"); home && *home)
    return std::filesystem::path(home) / ".local" / "state" / "pgstack" / "doctor-state.json";
  return {};
}

}  // namespace pgstack::doctor
