// Query results with typed access. Columns arrive in binary and are decoded by their
// type OID; NULL reads as std::optional, and a NULL read as a plain T is an error.
//
//   auto rows = conn.query("select id, email, last_seen from users where org = $1", org);
//   for (auto row : rows)
//     use(row.get<std::int64_t>(0), row.get<std::string>("email"), row.get<std::optional<Timestamp>>(2));
//
// A Row (and an iterator) points into its Result, so neither may come from a temporary:
// `auto row = conn.query(...)[0];` would dangle at the semicolon, and does not compile
// (operator[], at(), begin() and end() are deleted on rvalues). Keep the Result in a
// variable, or loop over it directly: `for (auto row : conn.query(...))` keeps the
// temporary alive for the loop.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include <nlohmann/json.hpp>

#include "pgstack/pg/errors.h"
#include "pgstack/pg/types.h"

struct pg_result;

namespace pgstack::pg {

// One column value as it arrived: its type, bytes (binary format) and column name.
struct FieldView {
  Oid type;
  const char* data;
  int length;
  std::string_view column;
};

// ValueTraits<T>::decode turns a non-NULL binary value into a T, or throws UsageError
// naming the column and both types. Specialise it to teach pgstack a new type.
template <class T, class Enable = void>
struct ValueTraits;

template <> struct ValueTraits<bool> { static bool decode(const FieldView& f); };
template <> struct ValueTraits<std::int16_t> { static std::int16_t decode(const FieldView& f); };
template <> struct ValueTraits<std::int32_t> { static std::int32_t decode(const FieldView& f); };
template <> struct ValueTraits<std::int64_t> { static std::int64_t decode(const FieldView& f); };
template <> struct ValueTraits<double> { static double decode(const FieldView& f); };
template <> struct ValueTraits<float> { static float decode(const FieldView& f); };
// Text types, json, numeric, uuid and the integer/float/bool types read as their text form.
template <> struct ValueTraits<std::string> { static std::string decode(const FieldView& f); };
template <> struct ValueTraits<Bytes> { static Bytes decode(const FieldView& f); };
template <> struct ValueTraits<Timestamp> { static Timestamp decode(const FieldView& f); };
template <> struct ValueTraits<nlohmann::json> { static nlohmann::json decode(const FieldView& f); };

namespace detail {
// Walks a one-dimensional binary array, calling element(FieldView) or null() per item.
struct ArrayVisitor {
  virtual ~ArrayVisitor() = default;
  virtual void element(const FieldView& f) = 0;
  virtual void null() = 0;
};
void visit_array(const FieldView& f, ArrayVisitor& visitor);
[[noreturn]] void throw_null_as_value(std::string_view column, std::string_view cpp_type);
// "2026-11-24 11:40:47.123456+00": PostgreSQL's ISO form, in UTC.
std::string format_timestamp(Timestamp t);
}  // namespace detail

namespace detail {
template <class T> struct OptionalElement { using type = T; static constexpr bool optional = false; };
template <class T> struct OptionalElement<std::optional<T>> { using type = T; static constexpr bool optional = true; };
}  // namespace detail

// std::vector<T> reads a one-dimensional array; std::vector<std::optional<T>> when it may hold NULLs.
template <class T>
struct ValueTraits<std::vector<T>, std::enable_if_t<!std::is_same_v<T, std::byte>>> {
  static std::vector<T> decode(const FieldView& f) {
    using Element = detail::OptionalElement<T>;
    struct Collect : detail::ArrayVisitor {
      std::vector<T> out;
      std::string_view column;
      void element(const FieldView& e) override { out.push_back(ValueTraits<typename Element::type>::decode(e)); }
      void null() override {
        if constexpr (Element::optional)
          out.emplace_back(std::nullopt);
        else
          detail::throw_null_as_value(column, "an array element (use std::vector<std::optional<T>>)");
      }
    } collect;
    collect.column = f.column;
    detail::visit_array(f, collect);
    return std::move(collect.out);
  }
};

class Result;

// One row of a Result; cheap to copy, valid while its Result lives (see the top of this file).
class Row {
 public:
  Row(const Result* result, int index) : result_(result), index_(index) {}

  template <class T>
  T get(int column) const {
    if constexpr (is_optional<T>::value) {
      if (is_null(column)) return std::nullopt;
      return ValueTraits<typename T::value_type>::decode(field(column));
    } else {
      if (is_null(column)) detail::throw_null_as_value(column_name(column), "a non-optional type");
      return ValueTraits<T>::decode(field(column));
    }
  }
  template <class T>
  T get(std::string_view column) const {
    return get<T>(column_index(column));
  }

  bool is_null(int column) const;
  int index() const noexcept { return index_; }
  int column_index(std::string_view name) const;
  std::string_view column_name(int column) const;

 private:
  template <class T> struct is_optional : std::false_type {};
  template <class T> struct is_optional<std::optional<T>> : std::true_type {};
  FieldView field(int column) const;

  const Result* result_;
  int index_;
};

// The outcome of one statement. Shares ownership of libpq's result, so copies are cheap.
class Result {
 public:
  Result() = default;
  explicit Result(pg_result* result);  // takes ownership

  int rows() const noexcept;
  int columns() const noexcept;
  bool empty() const noexcept { return rows() == 0; }
  // Rows changed by INSERT/UPDATE/DELETE/MERGE/COPY, or returned by SELECT.
  std::int64_t affected_rows() const;
  std::string_view column_name(int column) const;
  int column_index(std::string_view name) const;  // throws UsageError when absent
  Oid column_type(int column) const;

  // Only on a Result that outlives the call: a Row from a temporary would dangle.
  Row operator[](int row) const&;
  Row operator[](int row) const&& = delete;
  Row at(int row) const&;  // bounds-checked
  Row at(int row) const&& = delete;

  class iterator {
   public:
    using value_type = Row;
    using difference_type = std::ptrdiff_t;
    iterator(const Result* r, int i) : r_(r), i_(i) {}
    Row operator*() const { return Row(r_, i_); }
    iterator& operator++() { ++i_; return *this; }
    iterator operator++(int) { auto t = *this; ++i_; return t; }
    bool operator==(const iterator& o) const { return i_ == o.i_; }
   private:
    const Result* r_;
    int i_;
  };
  // Range-for over a temporary still works: it binds the Result to a reference first.
  iterator begin() const& { return iterator(this, 0); }
  iterator end() const& { return iterator(this, rows()); }
  iterator begin() const&& = delete;
  iterator end() const&& = delete;


 private:
  // libpq's result, for the driver's own classes only.
  friend class Row;
  friend class Connection;
  friend class Pipeline;
  friend class CopyWriter;
  pg_result* native() const noexcept { return result_.get(); }

  std::shared_ptr<pg_result> result_;
};

}  // namespace pgstack::pg
