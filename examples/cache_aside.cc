// Cache-aside with kv::Cache: a customer's order summary, computed from the orders
// table on a miss and kept for a minute. The cache is a table in PostgreSQL (pgstack's
// kv), so every process shares it: run this twice and the second run's reads are all
// hits. On a miss exactly one process computes the value; the others wait for it.
//
//   DATABASE_URL=postgresql://app@localhost/app ./cache_aside [customer_id]
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <string>

#include "pgstack/kv/cache.h"
#include "pgstack/pg/pool.h"

int main(int argc, char** argv) {
  const char* url = std::getenv("DATABASE_URL");
  if (url == nullptr || *url == '\0') {
    std::cerr << "cache_aside: set DATABASE_URL to a database with pgstack installed\n";
    return 2;
  }
  try {
    const std::int64_t customer_id = argc > 1 ? std::stoll(argv[1]) : 7;
    pgstack::pg::Pool pool({.primary = url, .max_size = 4});
    pool.query(
        "create table if not exists orders ("
        "  id bigint generated always as identity primary key,"
        "  customer_id bigint not null,"
        "  total numeric(12, 2) not null check (total >= 0),"
        "  created_at timestamptz not null default now())");

    // The expensive read the cache stands in front of.
    auto order_summary = [&pool](std::int64_t customer) {
      return pool.acquire().query_value<std::string>(
          "select json_build_object('customer_id', $1::bigint, 'orders', count(*),"
          "                         'total', coalesce(sum(total), 0))::text"
          "  from orders where customer_id = $1",
          customer);
    };

    pgstack::kv::Cache cache{pool, {.name_space = "examples"}};
    const std::string key = "customer:" + std::to_string(customer_id) + ":summary";
    for (int read = 1; read <= 2; ++read) {
      bool computed = false;
      std::string summary = cache.get_or_compute(key, std::chrono::minutes{1}, [&] {
        computed = true;
        return order_summary(customer_id);
      });
      std::cout << "read " << read << " of " << key << ": "
                << (computed ? "miss, computed from the orders table" : "hit, served from the cache") << ": "
                << summary << "\n";
    }
    // After an order changes, drop the entry: cache.invalidate(key);
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "cache_aside: " << e.what() << "\n";
    return 1;
  }
}
