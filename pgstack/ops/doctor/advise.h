// pgstack advise: the stack's decision tree as evidence. For each workload in use it
// measures the figures that would justify a specialised system (a broker, a search
// engine, Redis, a bigger machine or sharding) over a short window, and sets them beside
// the thresholds where that system starts to pay, with the headroom left.
//
//   auto advice = pgstack::doctor::advise(conn, {.window = std::chrono::seconds(5)});
//   for (const auto& e : advice) std::cout << e.area << ": " << e.verdict << "\n";
#pragma once

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "pgstack/pg/connection.h"

namespace pgstack::doctor {

struct Evidence {
  std::string area;         // "jobs", "search", "kv", "size", "writes"
  std::string figure;       // what was measured: "jobs completed per second"
  double measured = 0;
  std::string measured_text;  // with its unit and context: "12.4 jobs/s over 5 s, backlog 3"
  double threshold = 0;       // where the alternative starts to pay
  std::string threshold_text;
  std::string alternative;    // "a message broker (RabbitMQ, Kafka)"
  std::optional<double> headroom;  // threshold / measured; unset when nothing was measured
  bool justified = false;     // measured beyond the threshold
  std::string verdict;        // words a team lead can act on
};

struct AdviseOptions {
  std::chrono::milliseconds window{5000};  // rates are measured over this
  // The server's data folder when it is on this machine (the local stack): disk figures.
  std::filesystem::path data_dir;
};

// Measures (sleeping for the window) and returns evidence for each area in use.
std::vector<Evidence> advise(pg::Connection& conn, const AdviseOptions& options = {});

nlohmann::json to_json(const std::vector<Evidence>& evidence);
std::string to_text(const std::vector<Evidence>& evidence);

}  // namespace pgstack::doctor
