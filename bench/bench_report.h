// driver_bench's results: the figures of every run per mode and client count, and the
// table that prints their medians side by side with the ratios and the targets.
//
//   ClientCountResults r{.clients = 2};
//   r.pgbench.add(31000); r.one_at_a_time.add(29500); r.pipelined.add(120000);
//   print_report(std::cout, results, /*batch=*/100);   // true when every target is met
#pragma once

#include <ostream>
#include <vector>

namespace pgstack::bench {

// The figures of several runs of one mode; the machine is noisy, so medians are quoted.
class Samples {
 public:
  void add(double value) { values_.push_back(value); }
  double median() const;
  double min() const;
  double max() const;
  std::size_t size() const noexcept { return values_.size(); }

 private:
  std::vector<double> values_;
};

struct ClientCountResults {
  int clients = 0;
  Samples pgbench;        // pgbench -S -M prepared, transactions (= lookups) per second
  Samples one_at_a_time;  // pgstack lookups per second
  Samples pipelined;
};

// The targets of the issue: one-at-a-time >= 0.9 x pgbench, pipelined >= 3 x one-at-a-time.
inline constexpr double kOneAtATimeVsPgbenchTarget = 0.9;
inline constexpr double kPipelinedVsOneAtATimeTarget = 3.0;

// Prints the table, the ratios with PASS/MISS, and one `RESULT ...` line per client
// count for scripts. Returns true when every target is met.
bool print_report(std::ostream& out, const std::vector<ClientCountResults>& results, int batch);

}  // namespace pgstack::bench
