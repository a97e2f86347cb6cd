#include "bench/bench_report.h"

#include <algorithm>
#include <stdexcept>

#include <fmt/format.h>
#include <fmt/ostream.h>

namespace pgstack::bench {

double Samples::median() const {
  if (values_.empty()) throw std::logic_error("median of no samples");
  std::vector<double> v = values_;
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

double Samples::min() const { return *std::min_element(values_.begin(), values_.end()); }
double Samples::max() const { return *std::max_element(values_.begin(), values_.end()); }

namespace {

void print_row(std::ostream& out, int clients, std::string_view mode, const Samples& s) {
  fmt::print(out, "{:>7}  {:<32} {:>12.0f} {:>12.0f} {:>12.0f}\n", clients, mode, s.median(), s.min(), s.max());
}

std::string_view verdict(double ratio, double target) { return ratio >= target ? "PASS" : "MISS"; }

}  // namespace

bool print_report(std::ostream& out, const std::vector<ClientCountResults>& results, int batch) {
  bool all_met = true;
  fmt::print(out, "\n{:>7}  {:<32} {:>12} {:>12} {:>12}\n", "clients", "mode", "median/s", "min/s", "max/s");
  for (const auto& r : results) {
    print_row(out, r.clients, "pgbench -S -M prepared", r.pgbench);
    print_row(out, r.clients, "pgstack one-at-a-time", r.one_at_a_time);
    print_row(out, r.clients, fmt::format("pgstack pipelined ({}/sync)", batch), r.pipelined);
  }
  out << "\n";
  for (const auto& r : results) {
    const double vs_pgbench = r.one_at_a_time.median() / r.pgbench.median();
    const double vs_one = r.pipelined.median() / r.one_at_a_time.median();
    all_met = all_met && vs_pgbench >= kOneAtATimeVsPgbenchTarget && vs_one >= kPipelinedVsOneAtATimeTarget;
    fmt::print(out, "clients {}: one-at-a-time / pgbench = {:.2f}  (target >= {:.1f}: {})\n", r.clients, vs_pgbench,
               kOneAtATimeVsPgbenchTarget, verdict(vs_pgbench, kOneAtATimeVsPgbenchTarget));
    fmt::print(out, "clients {}: pipelined / one-at-a-time = {:.2f}  (target >= {:.1f}: {})\n", r.clients, vs_one,
               kPipelinedVsOneAtATimeTarget, verdict(vs_one, kPipelinedVsOneAtATimeTarget));
  }
  out << "\n";
  for (const auto& r : results) {
    fmt::print(out,
               "RESULT clients={} runs={} pgbench={:.0f} one_at_a_time={:.0f} pipelined={:.0f} "
               "one_at_a_time_vs_pgbench={:.3f} pipelined_vs_one_at_a_time={:.3f}\n",
               r.clients, r.pgbench.size(), r.pgbench.median(), r.one_at_a_time.median(), r.pipelined.median(),
               r.one_at_a_time.median() / r.pgbench.median(), r.pipelined.median() / r.one_at_a_time.median());
  }
  return all_met;
}

}  // namespace pgstack::bench
