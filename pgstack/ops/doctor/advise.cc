#include "pgstack/ops/doctor/advise.h"

#include <sys/statvfs.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <sstream>
#include <thread>

#include <fmt/format.h>

#include "pgstack/base/files.h"
#include "pgstack/capability/capability.h"
#include "pgstack/ops/doctor/checks.h"
#include "pgstack/ops/doctor/server_facts.h"
#include "pgstack/pg/json_text.h"

namespace pgstack::doctor {
namespace {

// The thresholds of the decision tree (docs/observability.md says where each comes from).
// The capabilities' own thresholds are in their pgstack.<name>_advice() (SQL).
constexpr double kSearchDocuments = 10e6;          // rows in tables searched with tsvector
constexpr double kSearchMeanMs = 100;              // mean full-text statement time
constexpr double kCacheHitRatio = 0.99;
constexpr double kWalBytesPerSecond = 50.0 * 1024 * 1024;
constexpr double kLagSeconds = 60;
constexpr double kDiskUsed = 0.80;

struct Counters {
  double at = 0, xacts = 0, row_writes = 0, wal_bytes = 0, blocks_hit = 0, blocks_read = 0;
  // Each capability's pgstack.<name>_usage(), by name.
  std::map<std::string, nlohmann::json> usage;
};

// The capabilities that give advice: those with both pgstack.<name>_usage() and _advice().
std::vector<std::string> advising_capabilities(pg::Connection& conn) {
  const auto functions = capability::contract_functions(conn);
  auto has = [&](const std::string& f) { return std::find(functions.begin(), functions.end(), f) != functions.end(); };
  std::vector<std::string> out;
  for (const auto& c : capability::capabilities())
    if (has(c.name + "_usage") && has(c.name + "_advice")) out.push_back(c.name);
  return out;
}

Counters read_counters(pg::Connection& conn, const std::vector<std::string>& advising) {
  auto row_rows = conn.query(
      "SELECT extract(epoch FROM clock_timestamp())::float8, "
      "  (SELECT coalesce(sum(xact_commit + xact_rollback), 0) FROM pg_stat_database)::float8, "
      "  (SELECT coalesce(sum(tup_inserted + tup_updated + tup_deleted), 0) FROM pg_stat_database)::float8, "
      "  (SELECT wal_bytes FROM pg_stat_wal)::float8, "
      "  (SELECT coalesce(sum(blks_hit), 0) FROM pg_stat_database)::float8, "
      "  (SELECT coalesce(sum(blks_read), 0) FROM pg_stat_database)::float8");
  auto row = row_rows[0];
  Counters c{row.get<double>(0), row.get<double>(1), row.get<double>(2), row.get<double>(3), row.get<double>(4),
             row.get<double>(5)};
  for (const auto& name : advising)
    c.usage[name] = pg::parse_json(
        conn.query_value<std::string>("SELECT pgstack." + conn.quote_identifier(name + "_usage") + "()::text"),
        "pgstack." + name + "_usage()");
  return c;
}

// A capability's evidence from its pgstack.<name>_advice(before, after, seconds).
void capability_advice(pg::Connection& conn, const std::string& name, const Counters& a, const Counters& b,
                       double seconds, std::vector<Evidence>& out) {
  auto rows = conn.query("SELECT area, figure, measured, measured_text, threshold, threshold_text, alternative, "
                         "justified, verdict, headroom FROM pgstack." +
                             conn.quote_identifier(name + "_advice") + "($1::jsonb, $2::jsonb, $3)",
                         a.usage.at(name), b.usage.at(name), seconds);
  for (auto row : rows) {
    Evidence e{row.get<std::string>(0), row.get<std::string>(1), row.get<double>(2), row.get<std::string>(3),
               row.get<double>(4), row.get<std::string>(5), row.get<std::string>(6)};
    e.justified = row.get<bool>(7);
    e.verdict = row.get<std::string>(8);
    e.headroom = row.get<std::optional<double>>(9);
    out.push_back(std::move(e));
  }
}

// A figure that justifies the alternative when it rises above threshold.
Evidence above(std::string area, std::string figure, double measured, std::string measured_text, double threshold,
               std::string threshold_text, std::string alternative, const std::string& fine, const std::string& act) {
  Evidence e{std::move(area), std::move(figure), measured, std::move(measured_text), threshold,
             std::move(threshold_text), std::move(alternative)};
  if (measured > 0) e.headroom = threshold / measured;
  e.justified = measured > threshold;
  e.verdict = e.justified ? act
                          : fine + (e.headroom ? fmt::format(" (headroom {:.1f}x)", *e.headroom) : std::string(" (idle now)"));
  return e;
}

double machine_memory_bytes() {
  std::istringstream in(pgstack::read_text_file("/proc/meminfo"));
  std::string key;
  double kb = 0;
  while (in >> key >> kb) {
    if (key == "MemTotal:") return kb * 1024;
    in.ignore(256, '\n');
  }
  return 0;
}

}  // namespace

std::vector<Evidence> advise(pg::Connection& conn, const AdviseOptions& o) {
  const auto advising = advising_capabilities(conn);
  auto a = read_counters(conn, advising);
  std::this_thread::sleep_for(o.window);
  auto b = read_counters(conn, advising);
  const double secs = std::max(b.at - a.at, 0.001);
  const auto over = fmt::format("over {}", seconds_text(secs));
  std::vector<Evidence> out;
  for (const auto& name : advising) capability_advice(conn, name, a, b, secs, out);

  auto search_rows = conn.query(
      "SELECT count(*)::float8, coalesce(sum(s.n_live_tup), 0)::float8 FROM pg_stat_user_tables s "
      "WHERE EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = s.relid AND a.attnum > 0 "
      "              AND NOT a.attisdropped AND a.atttypid = 'tsvector'::regtype) "
      "   OR EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = s.relid "
      "              AND pg_get_expr(i.indexprs, i.indrelid) LIKE '%to_tsvector%')");

  auto search = search_rows[0];
  if (search.get<double>(0) > 0) {
    double docs = search.get<double>(1);
    out.push_back(above("search", "documents in full-text searched tables", docs,
                        fmt::format("{:.0f} documents in {:.0f} tables", docs, search.get<double>(0)), kSearchDocuments,
                        fmt::format("{:.0f} million documents", kSearchDocuments / 1e6),
                        "a search engine (Elasticsearch, OpenSearch)", "Postgres full-text search is enough",
                        "past ten million documents ranking and facets get expensive: benchmark your queries, then "
                        "consider a search engine fed from Postgres"));
    if (auto view = statements_view(conn)) {
      try {
        // Full-text searches: @@ with a text-search function or type in the statement.
        // (@@ alone is also jsonpath's match, which document filters use; and DDL such
        // as a CREATE FUNCTION holding @@ is no search.)
        auto lat_rows = conn.query(
            "SELECT coalesce(sum(total_exec_time) / nullif(sum(calls), 0), 0)::float8, "
            "coalesce(sum(calls), 0)::float8 FROM " + *view +
            " WHERE query LIKE '%@@%' AND query ~* 'tsquery|tsvector' AND query !~* '^\s*(create|alter|do)\M'");
        auto lat = lat_rows[0];
        if (lat.get<double>(1) > 0)  // no search ran yet: no latency to show
          out.push_back(above("search", "mean full-text query time, ms", lat.get<double>(0),
                            fmt::format("{:.2f} ms mean over {:.0f} calls", lat.get<double>(0), lat.get<double>(1)),
                            kSearchMeanMs, fmt::format("{:.0f} ms", kSearchMeanMs),
                            "a search engine (Elasticsearch, OpenSearch)", "searches are fast",
                            "searches are slow: check their plans use the GIN index first (pgstack top), then "
                            "consider a search engine"));
      } catch (const pg::SqlError&) {
        // pg_stat_statements installed but not loaded: the documents figure stands alone.
      }
    }
  }

  {
    double hit = b.blocks_hit - a.blocks_hit, read = b.blocks_read - a.blocks_read;
    bool windowed = hit + read >= 1000;
    if (!windowed) hit = b.blocks_hit, read = b.blocks_read;
    double ratio = hit + read > 0 ? hit / (hit + read) : 1;
    Evidence e{"cache", "cache hit ratio", ratio,
               fmt::format("{} {}", percent(ratio), windowed ? over : "since the statistics were reset"),
               kCacheHitRatio, percent(kCacheHitRatio), "more memory (shared_buffers), not a cache in front"};
    e.justified = ratio < kCacheHitRatio;
    e.verdict = e.justified ? "reads miss memory: give the machine and shared_buffers more memory (pgstack tune) "
                              "before adding a cache; a cache in front would hold the same working set"
                            : "the working set fits in memory";
    out.push_back(std::move(e));
  }
  {
    double size = conn.query_value<double>("SELECT coalesce(sum(pg_database_size(oid)), 0)::float8 FROM pg_database");
    double memory = machine_memory_bytes();
    if (memory > 0) {
      Evidence e{"size", "database size against this machine's memory", size,
                 fmt::format("{} of databases, {} of memory", bytes_text(size), bytes_text(memory)), memory,
                 bytes_text(memory), "a bigger machine (more memory) before any other system"};
      e.headroom = size > 0 ? std::optional<double>(memory / size) : std::nullopt;
      e.justified = size > memory;
      e.verdict = e.justified ? "the data outgrew memory: fine while the cache hit ratio holds; when it drops, add "
                                "memory before anything else"
                              : fmt::format("the data fits in memory (headroom {:.1f}x)", e.headroom.value_or(0));
      out.push_back(std::move(e));
    }
    struct statvfs fs {};
    if (!o.data_dir.empty() && ::statvfs(o.data_dir.c_str(), &fs) == 0 && fs.f_blocks > 0) {
      double total = static_cast<double>(fs.f_blocks) * static_cast<double>(fs.f_frsize);
      double used = total - static_cast<double>(fs.f_bavail) * static_cast<double>(fs.f_frsize);
      out.push_back(above("size", "share of the data disk used", used / total,
                          fmt::format("{} of {} used ({})", bytes_text(used), bytes_text(total), percent(used / total)),
                          kDiskUsed, percent(kDiskUsed), "a bigger disk",
                          "the disk has room", "the disk is filling: grow it before WAL or a VACUUM FULL needs the space"));
    }
  }

  {
    double wal = b.wal_bytes - a.wal_bytes;
    double rate = wal / secs;
    out.push_back(above("writes", "WAL written per second", rate,
                        fmt::format("{}/s {}; {:.0f} rows written/s, {:.0f} transactions/s", bytes_text(rate), over,
                                    (b.row_writes - a.row_writes) / secs, (b.xacts - a.xacts) / secs),
                        kWalBytesPerSecond, fmt::format("{}/s sustained", bytes_text(kWalBytesPerSecond)),
                        "sharding (Citus) or splitting the write-heaviest workload out",
                        "one primary handles the writes",
                        "sustained writes near what one disk and one standby's replay can follow: faster disks first, "
                        "then split the write-heaviest workload"));
    auto lag_rows = conn.query(
        std::string("SELECT CASE WHEN pg_is_in_recovery() THEN ") + sql::kStandbyLagSeconds +
        "  ELSE (SELECT coalesce(max(extract(epoch FROM replay_lag)), 0) FROM pg_stat_replication "
        "        WHERE replay_lsn < pg_current_wal_lsn()) END::float8, "
        "  pg_is_in_recovery() OR EXISTS (SELECT 1 FROM pg_stat_replication)");
    auto lag = lag_rows[0];
    if (lag.get<bool>(1))
      out.push_back(above("writes", "replication lag, seconds", lag.get<double>(0), seconds_text(lag.get<double>(0)),
                          kLagSeconds, seconds_text(kLagSeconds), "a faster standby (disk, CPU), not another system",
                          "the standby keeps up",
                          "the standby falls behind the writes: give it the primary's disk and CPU, and look for "
                          "long queries on it"));
  }
  return out;
}

nlohmann::json to_json(const std::vector<Evidence>& evidence) {
  auto out = nlohmann::json::array();
  for (const auto& e : evidence)
    out.push_back({{"area", e.area}, {"figure", e.figure}, {"measured", e.measured}, {"measured_text", e.measured_text},
                   {"threshold", e.threshold}, {"threshold_text", e.threshold_text}, {"alternative", e.alternative},
                   {"headroom", e.headroom ? nlohmann::json(*e.headroom) : nlohmann::json(nullptr)},
                   {"justified", e.justified}, {"verdict", e.verdict}});
  return out;
}

std::string to_text(const std::vector<Evidence>& evidence) {
  std::string out;
  std::size_t justified = 0;
  for (const auto& e : evidence) {
    std::string verdict = e.verdict;
    if (!verdict.empty()) verdict[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(verdict[0])));
    out += fmt::format("{:<7} {}: {}\n        threshold {}: {}. {}{}\n", e.area, e.figure, e.measured_text,
                       e.threshold_text, e.alternative, e.justified ? "ACT: " : "", verdict);
    justified += e.justified ? 1 : 0;
  }
  out += justified == 0 ? "Postgres is enough: no measurement is past a threshold.\n"
                        : fmt::format("{} measurement(s) past their threshold: see ACT above.\n", justified);
  return out;
}

}  // namespace pgstack::doctor
