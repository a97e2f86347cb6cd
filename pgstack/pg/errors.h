// Errors raised by pgstack. Every exception derives from pgstack::Error; server errors
// carry their SQLSTATE and map to a typed class for the cases callers handle.
//
//   try { tx.query("insert into users(email) values ($1)", email); }
//   catch (const pgstack::pg::UniqueViolation& e) { return "email taken"; }
//   catch (const pgstack::pg::SerializationFailure&) { retry(); }
#pragma once

#include <string>

#include "pgstack/base/error.h"

namespace pgstack::pg {

// The diagnostic fields a PostgreSQL error report carries (see libpq's PQresultErrorField).
struct ErrorFields {
  std::string sqlstate;    // five characters, e.g. "23505"; empty for client-side errors
  std::string severity;    // ERROR, FATAL, PANIC
  std::string message;     // primary message
  std::string detail;
  std::string hint;
  int position = 0;        // 1-based character offset into the statement, 0 when none
  std::string context;
  std::string schema;
  std::string table;
  std::string column;
  std::string constraint;
};

// An error reported by the server (or the loss of the connection to it).
class SqlError : public Error {
 public:
  explicit SqlError(ErrorFields fields);
  const ErrorFields& fields() const noexcept { return fields_; }
  const std::string& sqlstate() const noexcept { return fields_.sqlstate; }

 private:
  ErrorFields fields_;
};

// Typed classes. A class name ending in a SQLSTATE class (two characters) catches the
// whole class; the leaves catch one condition.
#define PGSTACK_SQL_ERROR(Name, Base)   \
  class Name : public Base {            \
   public:                              \
    using Base::Base;                   \
  }

PGSTACK_SQL_ERROR(ConnectionError, SqlError);                     // 08, and failing to connect
PGSTACK_SQL_ERROR(ConnectionLost, ConnectionError);               // the server went away mid-use
PGSTACK_SQL_ERROR(ProtocolViolation, SqlError);  // 08P01: e.g. wrong parameter count; connection stays usable
PGSTACK_SQL_ERROR(FeatureNotSupported, SqlError);                 // 0A
PGSTACK_SQL_ERROR(DataException, SqlError);                       // 22
PGSTACK_SQL_ERROR(IntegrityConstraintViolation, SqlError);        // 23
PGSTACK_SQL_ERROR(NotNullViolation, IntegrityConstraintViolation);      // 23502
PGSTACK_SQL_ERROR(ForeignKeyViolation, IntegrityConstraintViolation);   // 23503
PGSTACK_SQL_ERROR(UniqueViolation, IntegrityConstraintViolation);       // 23505
PGSTACK_SQL_ERROR(CheckViolation, IntegrityConstraintViolation);        // 23514
PGSTACK_SQL_ERROR(InvalidTransactionState, SqlError);             // 25
PGSTACK_SQL_ERROR(InvalidAuthorization, SqlError);                // 28
PGSTACK_SQL_ERROR(TransactionRollback, SqlError);                 // 40
PGSTACK_SQL_ERROR(SerializationFailure, TransactionRollback);     // 40001
PGSTACK_SQL_ERROR(DeadlockDetected, TransactionRollback);         // 40P01
PGSTACK_SQL_ERROR(SyntaxErrorOrAccessRuleViolation, SqlError);    // 42
PGSTACK_SQL_ERROR(InsufficientResources, SqlError);               // 53
PGSTACK_SQL_ERROR(ProgramLimitExceeded, SqlError);                // 54
PGSTACK_SQL_ERROR(ObjectNotInPrerequisiteState, SqlError);        // 55
PGSTACK_SQL_ERROR(LockNotAvailable, ObjectNotInPrerequisiteState);  // 55P03
PGSTACK_SQL_ERROR(OperatorIntervention, SqlError);                // 57
PGSTACK_SQL_ERROR(QueryCanceled, OperatorIntervention);           // 57014 (statement_timeout too)
PGSTACK_SQL_ERROR(AdminShutdown, OperatorIntervention);           // 57P01..57P03
PGSTACK_SQL_ERROR(RaiseException, SqlError);                      // P0 (RAISE in PL/pgSQL)
PGSTACK_SQL_ERROR(InternalError, SqlError);                       // XX

#undef PGSTACK_SQL_ERROR

// Throws the most specific class for fields.sqlstate, the message composed from the fields.
[[noreturn]] void throw_sql_error(ErrorFields fields);

// pgstack::UsageError (base/error.h), by the name the driver's callers know.
using pgstack::UsageError;

// No connection came free within the pool's acquire timeout.
class PoolTimeout : public Error {
 public:
  using Error::Error;
};

}  // namespace pgstack::pg
