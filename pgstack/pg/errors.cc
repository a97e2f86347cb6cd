#include "pgstack/pg/errors.h"

#include <string_view>

namespace pgstack::pg {

namespace {

std::string compose(const ErrorFields& f) {
  std::string text = f.message.empty() ? std::string("PostgreSQL error") : f.message;
  if (!f.sqlstate.empty()) text += " (SQLSTATE " + f.sqlstate + ")";
  if (!f.detail.empty()) text += "\nDETAIL: " + f.detail;
  if (!f.hint.empty()) text += "\nHINT: " + f.hint;
  return text;
}

}  // namespace

SqlError::SqlError(ErrorFields fields) : Error(compose(fields)), fields_(std::move(fields)) {}

[[noreturn]] void throw_sql_error(ErrorFields fields) {
  const std::string_view s = fields.sqlstate;
  const std::string_view cls = s.size() >= 2 ? s.substr(0, 2) : std::string_view{};
  // Leaves first, then whole classes.
  if (s == "23502") throw NotNullViolation(std::move(fields));
  if (s == "23503") throw ForeignKeyViolation(std::move(fields));
  if (s == "23505") throw UniqueViolation(std::move(fields));
  if (s == "23514") throw CheckViolation(std::move(fields));
  if (s == "40001") throw SerializationFailure(std::move(fields));
  if (s == "40P01") throw DeadlockDetected(std::move(fields));
  if (s == "55P03") throw LockNotAvailable(std::move(fields));
  if (s == "57014") throw QueryCanceled(std::move(fields));
  if (s == "57P01" || s == "57P02" || s == "57P03") throw AdminShutdown(std::move(fields));
  if (s == "08P01") throw ProtocolViolation(std::move(fields));
  if (cls == "08") throw ConnectionError(std::move(fields));
  if (cls == "0A") throw FeatureNotSupported(std::move(fields));
  if (cls == "22") throw DataException(std::move(fields));
  if (cls == "23") throw IntegrityConstraintViolation(std::move(fields));
  if (cls == "25") throw InvalidTransactionState(std::move(fields));
  if (cls == "28") throw InvalidAuthorization(std::move(fields));
  if (cls == "40") throw TransactionRollback(std::move(fields));
  if (cls == "42") throw SyntaxErrorOrAccessRuleViolation(std::move(fields));
  if (cls == "53") throw InsufficientResources(std::move(fields));
  if (cls == "54") throw ProgramLimitExceeded(std::move(fields));
  if (cls == "55") throw ObjectNotInPrerequisiteState(std::move(fields));
  if (cls == "57") throw OperatorIntervention(std::move(fields));
  if (cls == "P0") throw RaiseException(std::move(fields));
  if (cls == "XX") throw InternalError(std::move(fields));
  throw SqlError(std::move(fields));
}

}  // namespace pgstack::pg
