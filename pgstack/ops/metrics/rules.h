// Prometheus alerting rules for the stack's six alerts (and a server that stops
// answering), over the metrics of collect.h, at doctor's thresholds. `pgstack metrics
// rules > pgstack.rules.yml`, then list the file under rule_files in prometheus.yml.
//
//   std::cout << pgstack::metrics::alerting_rules(doctor::Thresholds{});
#pragma once

#include <string>

#include "pgstack/ops/doctor/thresholds.h"

namespace pgstack::metrics {

// A rule file (YAML) that `promtool check rules` accepts.
std::string alerting_rules(const doctor::Thresholds& t);

}  // namespace pgstack::metrics
