// Every SQLSTATE callers handle maps to its typed class, and the message says what
// the server said (with detail and hint).
#include "pgstack/pg/errors.h"

#include <gtest/gtest.h>

#include <functional>
#include <string>

namespace pgstack::pg {
namespace {

// True when throw_sql_error(sqlstate) throws something catch_as catches.
template <class E>
bool maps_to(const std::string& sqlstate) {
  try {
    throw_sql_error(ErrorFields{.sqlstate = sqlstate, .message = "m"});
  } catch (const E&) {
    return true;
  } catch (...) {
    return false;
  }
}

TEST(Errors, LeavesMapToTheirOwnClass) {
  EXPECT_TRUE(maps_to<NotNullViolation>("23502"));
  EXPECT_TRUE(maps_to<ForeignKeyViolation>("23503"));
  EXPECT_TRUE(maps_to<UniqueViolation>("23505"));
  EXPECT_TRUE(maps_to<CheckViolation>("23514"));
  EXPECT_TRUE(maps_to<SerializationFailure>("40001"));
  EXPECT_TRUE(maps_to<DeadlockDetected>("40P01"));
  EXPECT_TRUE(maps_to<LockNotAvailable>("55P03"));
  EXPECT_TRUE(maps_to<QueryCanceled>("57014"));
  EXPECT_TRUE(maps_to<AdminShutdown>("57P01"));
  EXPECT_TRUE(maps_to<AdminShutdown>("57P03"));
  EXPECT_TRUE(maps_to<ProtocolViolation>("08P01"));
}

TEST(Errors, ClassesCatchEveryConditionOfTheirClass) {
  EXPECT_TRUE(maps_to<ConnectionError>("08006"));
  EXPECT_TRUE(maps_to<FeatureNotSupported>("0A000"));
  EXPECT_TRUE(maps_to<DataException>("22P02"));
  EXPECT_TRUE(maps_to<DataException>("22003"));
  EXPECT_TRUE(maps_to<IntegrityConstraintViolation>("23505"));
  EXPECT_TRUE(maps_to<IntegrityConstraintViolation>("23P01"));  // exclusion_violation
  EXPECT_TRUE(maps_to<InvalidTransactionState>("25006"));
  EXPECT_TRUE(maps_to<InvalidAuthorization>("28P01"));
  EXPECT_TRUE(maps_to<TransactionRollback>("40001"));
  EXPECT_TRUE(maps_to<TransactionRollback>("40P01"));
  EXPECT_TRUE(maps_to<SyntaxErrorOrAccessRuleViolation>("42P01"));
  EXPECT_TRUE(maps_to<InsufficientResources>("53300"));
  EXPECT_TRUE(maps_to<ProgramLimitExceeded>("54000"));
  EXPECT_TRUE(maps_to<ObjectNotInPrerequisiteState>("55006"));
  EXPECT_TRUE(maps_to<OperatorIntervention>("57014"));
  EXPECT_TRUE(maps_to<RaiseException>("P0001"));
  EXPECT_TRUE(maps_to<InternalError>("XX000"));
  // Everything is a SqlError and a pgstack::Error.
  EXPECT_TRUE(maps_to<SqlError>("99999"));
  EXPECT_TRUE(maps_to<pgstack::Error>("23505"));
}

TEST(Errors, ClassesDoNotCatchOtherClasses) {
  EXPECT_FALSE(maps_to<UniqueViolation>("23503"));
  EXPECT_FALSE(maps_to<SerializationFailure>("40P01"));
  EXPECT_FALSE(maps_to<ConnectionError>("08P01"));  // a protocol error leaves the connection usable
  EXPECT_FALSE(maps_to<TransactionRollback>("57014"));
  EXPECT_FALSE(maps_to<DataException>("42804"));
}

TEST(Errors, MessageCarriesSqlstateDetailAndHint) {
  try {
    throw_sql_error(ErrorFields{.sqlstate = "23505",
                                .message = "duplicate key value violates unique constraint \"users_email_key\"",
                                .detail = "Key (email)=(a@b.c) already exists.",
                                .hint = "use another email"});
  } catch (const UniqueViolation& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("users_email_key"), std::string::npos);
    EXPECT_NE(what.find("SQLSTATE 23505"), std::string::npos);
    EXPECT_NE(what.find("DETAIL: Key (email)"), std::string::npos);
    EXPECT_NE(what.find("HINT: use another email"), std::string::npos);
    EXPECT_EQ(e.sqlstate(), "23505");
  }
}

}  // namespace
}  // namespace pgstack::pg
