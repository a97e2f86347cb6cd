#include "pgstack/pg/copy.h"

#include <libpq-fe.h>

#include <charconv>
#include <cmath>

#include <fmt/format.h>

#include "pgstack/pg/result.h"

namespace pgstack::pg {

namespace {
constexpr std::size_t kFlushBytes = 256 * 1024;
}

CopyWriter::CopyWriter(Connection& conn, const CopyTarget& target) : conn_(&conn), columns_(target.columns.size()) {
  if (target.table.empty()) throw UsageError("CopyWriter needs a table name");
  std::string sql = "COPY ";
  if (!target.schema.empty()) sql += conn.quote_identifier(target.schema) + ".";
  sql += conn.quote_identifier(target.table);
  if (!target.columns.empty()) {
    sql += " (";
    for (std::size_t i = 0; i < target.columns.size(); ++i)
      sql += (i ? ", " : "") + conn.quote_identifier(target.columns[i]);
    sql += ")";
  }
  sql += " FROM STDIN";
  PGresult* r = PQexec(conn.native(), sql.c_str());
  if (!r || PQresultStatus(r) != PGRES_COPY_IN) {
    try {
      conn.throw_last_error(r);
    } catch (...) {
      if (r) PQclear(r);
      throw;
    }
  }
  PQclear(r);
  open_ = true;
  buffer_.reserve(kFlushBytes + 4096);
}

CopyWriter::~CopyWriter() {
  if (!open_) return;
  PGconn* c = conn_->native();
  if (!c) return;
  // Aborting makes the server fail the COPY: none of its rows are written.
  PQputCopyEnd(c, "CopyWriter destroyed before finish(): COPY aborted");
  while (PGresult* r = PQgetResult(c)) PQclear(r);
}

void CopyWriter::append(std::string_view v) {
  // COPY text format: backslash escapes for the characters that delimit fields and rows.
  for (char ch : v) {
    switch (ch) {
      case '\\': buffer_ += "\\\\"; break;
      case '\t': buffer_ += "\\t"; break;
      case '\n': buffer_ += "\\n"; break;
      case '\r': buffer_ += "\\r"; break;
      default: buffer_ += ch;
    }
  }
}

void CopyWriter::append(bool v) { buffer_ += v ? 't' : 'f'; }

void CopyWriter::append_integer(std::int64_t v) {
  char digits[24];
  auto [end, ec] = std::to_chars(digits, digits + sizeof digits, v);
  buffer_.append(digits, end);
}

void CopyWriter::append(double v) {
  if (std::isnan(v)) buffer_ += "NaN";
  else if (std::isinf(v)) buffer_ += v > 0 ? "Infinity" : "-Infinity";
  else buffer_ += fmt::format("{}", v);
}

void CopyWriter::append(const Bytes& v) {
  static constexpr char kHex[] = "0123456789abcdef";
  buffer_ += "\\\\x";  // bytea's hex input form, its backslash escaped for COPY
  for (std::byte b : v) {
    buffer_ += kHex[static_cast<unsigned>(b) >> 4];
    buffer_ += kHex[static_cast<unsigned>(b) & 0xF];
  }
}

void CopyWriter::append(Timestamp v) { buffer_ += detail::format_timestamp(v); }

void CopyWriter::end_row() {
  buffer_ += '\n';
  ++rows_;
  if (buffer_.size() >= kFlushBytes) flush();
}

void CopyWriter::flush() {
  if (buffer_.empty()) return;
  PGconn* c = conn_->native();
  if (PQputCopyData(c, buffer_.data(), static_cast<int>(buffer_.size())) != 1) {
    open_ = false;
    // Refused while the connection is fine: the server already failed the COPY (a bad
    // value) and its error waits as a result. Report that, and leave nothing unread.
    if (PQstatus(c) == CONNECTION_OK) {
      Result failed(PQgetResult(c));
      while (PGresult* extra = PQgetResult(c)) PQclear(extra);
      if (failed.native() && PQresultStatus(failed.native()) == PGRES_FATAL_ERROR) conn_->throw_last_error(failed.native());
    }
    conn_->throw_last_error(nullptr);
  }
  buffer_.clear();
}

std::int64_t CopyWriter::finish() {
  if (!open_) throw UsageError("CopyWriter::finish() called twice");
  flush();
  open_ = false;
  PGconn* c = conn_->native();
  if (PQputCopyEnd(c, nullptr) != 1) conn_->throw_last_error(nullptr);
  PGresult* r = PQgetResult(c);
  const bool ok = r && PQresultStatus(r) == PGRES_COMMAND_OK;
  Result result(r);
  while (PGresult* extra = PQgetResult(c)) PQclear(extra);
  if (!ok) conn_->throw_last_error(r);
  return result.affected_rows();
}

void CopyWriter::wrong_width(std::size_t given) const {
  throw UsageError(fmt::format("COPY row has {} values but the COPY names {} columns", given, columns_));
}

}  // namespace pgstack::pg
