#include "pgstack/ops/metrics/scraper.h"

#include <fmt/format.h>

#include "pgstack/ops/stack/backup.h"
#include "pgstack/ops/stack/pgbouncer.h"
#include "pgstack/ops/doctor/server_facts.h"

namespace pgstack::metrics {

struct Scraper::State {
  ScraperOptions options;
  std::vector<std::optional<pg::Connection>> connections;  // one per server, made on demand
  std::chrono::steady_clock::time_point backups_read{};
  Exposition backups;  // the last pgbackrest info, re-read every backup_cache
};

Scraper::Scraper(ScraperOptions options) : state_(std::make_unique<State>()) {
  state_->options = std::move(options);
  state_->connections.resize(state_->options.servers.size());
}

Scraper::~Scraper() = default;

ScraperOptions Scraper::for_stack(const stack::ClusterLayout& layout) {
  ScraperOptions o;
  for (const auto& c : layout.components) o.servers.push_back({c.name, layout.dsn(&c)});
  o.stack = layout;
  return o;
}

std::string Scraper::scrape() {
  std::unique_lock lock(mutex_);
  if (running_) {
    const auto generation = generation_;
    done_.wait(lock, [&] { return generation_ != generation; });
    return last_;
  }
  running_ = true;
  lock.unlock();
  std::string text;
  try {
    text = scrape_now();
  } catch (...) {
    lock.lock();
    running_ = false;
    ++generation_;
    last_ = "# scrape failed\n";
    done_.notify_all();
    throw;
  }
  lock.lock();
  running_ = false;
  ++generation_;
  last_ = text;
  done_.notify_all();
  return text;
}

namespace {

void declare_stack_families(Exposition& out) {
  out.family("pgstack_up", "gauge", "1 when the server (or PgBouncer) answered this scrape, 0 when it could not be reached.");
  out.family("pgstack_scrape_duration_seconds", "gauge", "How long reading the server took in this scrape.");
}

void collect_pgbouncer(const stack::ClusterLayout& layout, Exposition& out) {
  Exposition p;
  p.family("pgstack_pgbouncer_clients_active", "gauge", "Clients linked to a server connection, by pool.");
  p.family("pgstack_pgbouncer_clients_waiting", "gauge", "Clients waiting for a server connection, by pool.");
  p.family("pgstack_pgbouncer_servers_active", "gauge", "Server connections in use by a client, by pool.");
  p.family("pgstack_pgbouncer_servers_idle", "gauge", "Server connections idle and ready, by pool.");
  p.family("pgstack_pgbouncer_max_wait_seconds", "gauge", "How long the oldest waiting client has waited, by pool.");
  p.family("pgstack_pgbouncer_transactions_total", "counter", "Transactions pooled, by database.");
  p.family("pgstack_pgbouncer_queries_total", "counter", "Queries pooled, by database.");
  p.family("pgstack_pgbouncer_wait_seconds_total", "counter", "Time clients spent waiting for a server, by database.");
  p.family("pgstack_pgbouncer_transaction_seconds_total", "counter", "Time spent in transactions, by database.");
  for (const auto& pool : stack::pgbouncer_pools(layout)) {
    Labels l{{"database", pool.database}, {"user", pool.user}};
    p.sample("pgstack_pgbouncer_clients_active", l, pool.clients_active);
    p.sample("pgstack_pgbouncer_clients_waiting", l, pool.clients_waiting);
    p.sample("pgstack_pgbouncer_servers_active", l, pool.servers_active);
    p.sample("pgstack_pgbouncer_servers_idle", l, pool.servers_idle);
    p.sample("pgstack_pgbouncer_max_wait_seconds", l, static_cast<double>(pool.max_wait_seconds));
  }
  for (const auto& s : stack::pgbouncer_stats(layout)) {
    Labels l{{"database", s.database}};
    p.sample("pgstack_pgbouncer_transactions_total", l, static_cast<double>(s.transactions));
    p.sample("pgstack_pgbouncer_queries_total", l, static_cast<double>(s.queries));
    p.sample("pgstack_pgbouncer_wait_seconds_total", l, static_cast<double>(s.wait_microseconds) / 1e6);
    p.sample("pgstack_pgbouncer_transaction_seconds_total", l, static_cast<double>(s.transaction_microseconds) / 1e6);
  }
  out.merge(std::move(p));
}

Exposition read_backups(const stack::ClusterLayout& layout) {
  Exposition b;
  b.family("pgstack_backups", "gauge", "Backups in the repository.");
  b.family("pgstack_backup_last_completion_timestamp_seconds", "gauge", "When the newest backup of each type finished.");
  b.family("pgstack_backup_last_size_bytes", "gauge", "Size of the database in the newest backup.");
  auto list = stack::list_backups(layout);
  b.sample("pgstack_backups", {}, static_cast<double>(list.size()));
  for (const char* type : {"full", "diff", "incr"}) {
    for (auto it = list.rbegin(); it != list.rend(); ++it) {
      if (std::string(stack::to_string(it->type)) != type) continue;
      b.sample("pgstack_backup_last_completion_timestamp_seconds", {{"type", type}},
               std::chrono::duration<double>(it->stop.time_since_epoch()).count());
      break;
    }
  }
  if (!list.empty()) b.sample("pgstack_backup_last_size_bytes", {}, static_cast<double>(list.back().size));
  return b;
}

}  // namespace

std::string Scraper::scrape_now() {
  auto& s = *state_;
  Exposition out;
  declare_stack_families(out);
  declare_server_families(out);
  for (std::size_t i = 0; i < s.options.servers.size(); ++i) {
    const auto& target = s.options.servers[i];
    auto& conn = s.connections[i];
    const auto started = std::chrono::steady_clock::now();
    Exposition one;
    bool up = false;
    // A kept connection may have died with a restart since the last scrape: one retry
    // on a fresh connection tells that apart from a server that is down.
    bool kept = conn.has_value();
    while (!up) {
      try {
        if (!conn)
          conn.emplace(pg::ConnectOptions{.dsn = target.dsn,
                                          .connect_timeout = s.options.connect_timeout,
                                          .statement_cache = false,
                                          .application_name = "pgstack metrics"});
        one = Exposition();
        collect_server(*conn, target.server, s.options.collect, one);
        up = true;
      } catch (const pgstack::Error&) {
        conn.reset();
        if (!kept) break;  // a fresh connection failed: the server is down
        kept = false;      // a kept one failed: try once more, fresh
      }
    }
    const Labels l{{"server", target.server}};
    out.sample("pgstack_up", l, up ? 1 : 0);
    out.sample("pgstack_scrape_duration_seconds", l,
               std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
    if (up) out.merge(std::move(one));
  }
  if (s.options.stack) {
    const auto& layout = *s.options.stack;
    if (layout.pgbouncer.enabled) {
      bool up = true;
      Exposition p;
      try {
        collect_pgbouncer(layout, p);
      } catch (const pgstack::Error&) {
        up = false;
      }
      out.sample("pgstack_up", {{"server", "pgbouncer"}}, up ? 1 : 0);
      if (up) out.merge(std::move(p));
    }
    const auto now = std::chrono::steady_clock::now();
    if (s.backups.samples() == 0 || now - s.backups_read >= s.options.backup_cache) {
      try {
        s.backups = read_backups(layout);
        s.backups_read = now;
      } catch (const pgstack::Error&) {
        s.backups = Exposition();  // unreadable: the samples are absent, and retried next scrape
      }
    }
    Exposition copy = s.backups;
    out.merge(std::move(copy));
  }
  return out.text();
}

}  // namespace pgstack::metrics
