// COPY ... FROM STDIN: the fastest way to load many rows. Rows are encoded in COPY's
// text format, buffered and streamed; finish() commits the COPY and returns the count.
//
//   pgstack::pg::CopyWriter copy(conn, {.table = "events", .columns = {"kind", "body"}});
//   for (auto& e : events) copy.write_row(e.kind, e.body);
//   std::int64_t n = copy.finish();
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "pgstack/pg/connection.h"
#include "pgstack/pg/types.h"

namespace pgstack::pg {

struct CopyTarget {
  std::string schema;  // empty: the search_path decides
  std::string table;
  std::vector<std::string> columns;  // empty: every column, in table order
};

class CopyWriter {
 public:
  CopyWriter(Connection& conn, const CopyTarget& target);
  CopyWriter(const CopyWriter&) = delete;
  ~CopyWriter();  // not finished: the COPY is aborted and nothing is written

  template <class... Values>
  void write_row(const Values&... values) {
    if (sizeof...(Values) != columns_ && columns_ != 0) wrong_width(sizeof...(Values));
    bool first = true;
    ((append_separator(first), append(values)), ...);
    end_row();
  }

  std::int64_t finish();

 private:
  void append_separator(bool& first) {
    if (!first) buffer_.push_back('\t');
    first = false;
  }
  void append(std::string_view v);
  void append(const std::string& v) { append(std::string_view(v)); }
  void append(const char* v) { append(std::string_view(v)); }
  void append(bool v);
  void append(std::int16_t v) { append_integer(v); }
  void append(std::int32_t v) { append_integer(v); }
  void append(std::int64_t v) { append_integer(v); }
  void append(long long v) { append_integer(static_cast<std::int64_t>(v)); }
  void append(double v);
  void append(const Bytes& v);
  void append(Timestamp v);
  void append(const nlohmann::json& v) { append(std::string_view(v.dump())); }
  void append(std::nullopt_t) { buffer_.append("\\N"); }
  template <class T>
  void append(const std::optional<T>& v) {
    if (v) append(*v);
    else append(std::nullopt);
  }
  void append_integer(std::int64_t v);
  void end_row();
  void flush();
  [[noreturn]] void wrong_width(std::size_t given) const;

  Connection* conn_;
  std::size_t columns_;
  std::string buffer_;
  std::int64_t rows_ = 0;
  bool open_ = false;
};

}  // namespace pgstack::pg
