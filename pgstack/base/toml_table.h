// One [table] of a TOML file read key by key, for pgstack.toml's sections: each key's
// type and range checked, and keys nobody read reported by done(), so a typo
// ("prot = 6000") is an error rather than a silently ignored line. Errors name the
// file, the table and the key.
//
//   pgstack::TomlTable t(file, root, "doctor");
//   auto lag = t.number("replication_lag_seconds", 0, 86400);   // std::optional<double>
//   t.done();
#pragma once

#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <optional>
#include <set>
#include <string>

#include <fmt/format.h>
#include <toml++/toml.h>

#include "pgstack/base/error.h"
#include "pgstack/base/files.h"

namespace pgstack {

// Reads one table's keys, rejecting those it does not know so a typo ("prot = 6000")
// is an error rather than a silently ignored line.
class TomlTable {
 public:
  TomlTable(const std::filesystem::path& file, const toml::table& root, std::string name) : file_(file), name_(std::move(name)) {
    if (const auto* node = root.get(name_)) {
      table_ = node->as_table();
      if (!table_) fail(name_, "must be a table ([" + name_ + "])");
    }
  }
  bool present() const { return table_ != nullptr; }

  std::optional<std::string> text(const std::string& key) {
    auto* node = take(key);
    if (!node) return std::nullopt;
    if (auto v = node->value<std::string>()) return *v;
    fail(key, "must be a string in quotes");
  }
  std::optional<bool> boolean(const std::string& key) {
    auto* node = take(key);
    if (!node) return std::nullopt;
    if (auto v = node->value<bool>(); v && node->is_boolean()) return *v;
    fail(key, "must be true or false");
  }
  std::optional<int> integer(const std::string& key, int min, int max) {
    auto* node = take(key);
    if (!node) return std::nullopt;
    if (!node->is_integer()) fail(key, fmt::format("must be a whole number from {} to {}", min, max));
    auto v = node->value<std::int64_t>().value();
    if (v < min || v > max) fail(key, fmt::format("is {}; it must be from {} to {}", v, min, max));
    return static_cast<int>(v);
  }
  // A count: a whole number (no fraction: 1.5 blocks means nothing) from min to max.
  std::optional<std::int64_t> whole_number(const std::string& key, std::int64_t min, std::int64_t max) {
    auto* node = take(key);
    if (!node) return std::nullopt;
    if (!node->is_integer()) fail(key, fmt::format("must be a whole number from {} to {}", min, max));
    auto v = node->value<std::int64_t>().value();
    if (v < min || v > max) fail(key, fmt::format("is {}; it must be from {} to {}", v, min, max));
    return v;
  }
  // A number (integer or float) from min to max.
  std::optional<double> number(const std::string& key, double min, double max) {
    auto* node = take(key);
    if (!node) return std::nullopt;
    if (!node->is_integer() && !node->is_floating_point())
      fail(key, fmt::format("must be a number from {} to {}", min, max));
    double v = node->value<double>().value();
    if (!std::isfinite(v)) fail(key, fmt::format("is {}; it must be a number from {} to {}", v, min, max));
    if (v < min || v > max) fail(key, fmt::format("is {}; it must be from {} to {}", v, min, max));
    return v;
  }
  std::optional<std::filesystem::path> path(const std::string& key) {
    auto t = text(key);
    if (!t) return std::nullopt;
    if (t->empty()) fail(key, "must not be empty");
    std::filesystem::path p(*t);
    return p.is_absolute() ? p : (file_.parent_path() / p).lexically_normal();
  }
  // A sub-table ([primary.settings]) whose keys the caller reads freely; nullptr when absent.
  const toml::table* table(const std::string& key) {
    auto* node = take(key);
    if (!node) return nullptr;
    if (!node->is_table()) fail(key, "must be a table ([" + name_ + "." + key + "])");
    return node->as_table();
  }
  const std::string& name() const { return name_; }
  // Every key of the table was read.
  void done() {
    if (!table_) return;
    for (const auto& [key, node] : *table_)
      if (!seen_.count(std::string(key.str())))
        fail(std::string(key.str()), "is not a setting pgstack knows (docs/stack.md lists them)");
  }
  [[noreturn]] void fail(const std::string& key, const std::string& why) const {
    throw Error(fmt::format("{}: [{}] {} {}; fix the file, or remove the line to use the default", file_.string(),
                            name_, key, why));
  }

 private:
  const toml::node* take(const std::string& key) {
    seen_.insert(key);
    return table_ ? table_->get(key) : nullptr;
  }
  std::filesystem::path file_;
  std::string name_;
  const toml::table* table_ = nullptr;
  std::set<std::string> seen_;
};


// Parses file; a syntax error names the file, line and column. Read through
// read_text_file_if_readable, not toml::parse_file, whose std::ifstream is not close-on-exec.
inline toml::table read_toml_file(const std::filesystem::path& file) {
  const auto text = read_text_file_if_readable(file.string());
  if (!text)
    throw Error(fmt::format("cannot read {}: {}; check the path and that this user may read it", file.string(),
                            std::strerror(errno)));
  try {
    return toml::parse(*text, file.string());
  } catch (const toml::parse_error& e) {
    const auto& where = e.source().begin;
    throw Error(fmt::format("{}:{}:{}: {}; fix the file (TOML syntax, docs/stack.md)", file.string(), where.line,
                            where.column, e.description()));
  }
}

}  // namespace pgstack
