// The statements that serve many callers' gets and sets at once: kv::Store's coalesced
// calls (coalescer.h) and kv::AsyncStore's queue both end here.
//
//   std::vector<const std::string*> keys{&a, &b};
//   auto values = batches::get(conn, "default", keys);   // one statement, two keys
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pgstack/pg/executor.h"
#include "pgstack/pg/types.h"

namespace pgstack::kv::batches {

using Ttl = std::chrono::microseconds;

inline constexpr std::size_t kMaxKeys = 64;  // per get batch

struct Set {
  std::string key;
  std::string value;
  std::optional<Ttl> ttl;
};

// Whether kv_check_write would accept the key and ttl. A call it would refuse is sent on
// its own, so that its error is its own and not its batch's.
bool valid_write(std::string_view key, std::optional<Ttl> ttl);

// The values of keys (at most kMaxKeys) in their order; nullopt for an absent or
// expired key. One statement.
std::vector<std::optional<std::string>> get(pg::Executor db, const std::string& name_space,
                                            const std::vector<const std::string*>& keys);

// Lifetimes are bound as microseconds and turned into an interval in SQL: NULL stays
// NULL (no expiry), and no interval text is ever built on the client.
std::optional<std::int64_t> micros(std::optional<Ttl> ttl);
pg::Bytes to_bytes(std::string_view s);
std::string from_bytes(const pg::Bytes& b);

// One kv_set statement (mode: always, if_absent or if_present); returns whether it wrote.
bool set_one(pg::Executor db, const std::string& name_space, std::string_view key, std::string_view value,
             std::optional<Ttl> ttl, const char* mode);

// Sets every entry (SetMode::always), each with its own ttl, in one statement: kv_mset's
// upsert. Two sets of one key: the later one wins, a fair order for concurrent calls.
// Entries must pass valid_write. A namespace that no longer exists gets kv's own error.
void set(pg::Executor db, const std::string& name_space, const std::vector<const Set*>& sets);

}  // namespace pgstack::kv::batches
