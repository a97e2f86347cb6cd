// One scrape of the whole stack (or of one --db server): each server's figures
// (collect.h) with pgstack_up 1, or pgstack_up 0 when it cannot be reached, and for a
// stack PgBouncer's pools and stats and the backups; then the job queue's metrics from
// the primary. Connections are kept between scrapes and remade when a server restarts.
// Scrapes that arrive while one runs wait for it and share its text, so 20 Prometheus
// servers scraping at once cost the database one scrape.
//
//   Scraper scraper(Scraper::for_stack(layout));
//   std::string text = scraper.scrape();
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "pgstack/ops/stack/layout.h"
#include "pgstack/ops/metrics/collect.h"

namespace pgstack::metrics {

struct ScrapeTarget {
  std::string server;  // the `server` label: "primary", "standby", or "db"
  std::string dsn;
};

struct ScraperOptions {
  std::vector<ScrapeTarget> servers;
  std::optional<stack::ClusterLayout> stack;  // PgBouncer and backups are read when set
  CollectOptions collect;
  std::chrono::milliseconds connect_timeout{2000};
  // pgbackrest info starts a process; its figures change only when a backup runs.
  std::chrono::seconds backup_cache{60};
};

class Scraper {
 public:
  explicit Scraper(ScraperOptions options);
  ~Scraper();
  // Every server of the stack (socket DSNs as the superuser), PgBouncer and backups.
  static ScraperOptions for_stack(const stack::ClusterLayout& layout);

  // The exposition text. Never throws for a server that is down: that is pgstack_up 0.
  std::string scrape();

 private:
  std::string scrape_now();
  struct State;
  std::unique_ptr<State> state_;
  std::mutex mutex_;
  std::condition_variable done_;
  bool running_ = false;
  std::uint64_t generation_ = 0;
  std::string last_;
};

}  // namespace pgstack::metrics
