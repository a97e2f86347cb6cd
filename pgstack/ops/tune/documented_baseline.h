// The stack's documented postgresql.conf baseline for a 32 GB, 8-core SSD web server
// (issue 3 quotes it): tune's own test and the CLI's test both check `recommend()` /
// `pgstack tune` against this one table.
//
//   for (const auto& [name, value] : pgstack::tune::documented_baseline_32gb())
//     EXPECT_EQ(got[name], value) << name;
#pragma once

#include <map>
#include <string>

namespace pgstack::tune {

inline const std::map<std::string, std::string>& documented_baseline_32gb() {
  static const std::map<std::string, std::string> baseline = {
      {"shared_buffers", "8GB"},
      {"effective_cache_size", "24GB"},
      {"work_mem", "64MB"},
      {"maintenance_work_mem", "2GB"},
      {"checkpoint_completion_target", "0.9"},
      {"max_wal_size", "4GB"},
      {"checkpoint_timeout", "15min"},
      {"wal_level", "replica"},
      {"wal_compression", "on"},
      {"max_connections", "200"},
      {"autovacuum_max_workers", "6"},
      {"autovacuum_vacuum_cost_delay", "2ms"},
      {"autovacuum_vacuum_cost_limit", "2000"},
      {"log_min_duration_statement", "1000"},
      {"log_line_prefix", "'%t [%p]: [%l-1] user=%u,db=%d,app=%a,client=%h '"},
      {"shared_preload_libraries", "'pg_stat_statements, pg_cron'"},
      {"pg_stat_statements.track", "all"},
  };
  return baseline;
}

}  // namespace pgstack::tune
