// Transactions: rollback unless committed, savepoints, isolation, read only, and a
// statement timeout that holds only inside the transaction.
#include "pgstack/pg/transaction.h"

#include <gtest/gtest.h>

#include <chrono>
#include <type_traits>

#include "pgstack/pg/pool.h"
#include "pgstack/testing/test_cluster.h"

namespace pgstack::pg {
namespace {

using namespace std::chrono_literals;
using pgstack::testing::TestCluster;

// Beginning a transaction is never implicit: a Connection (or a lease) passed where a
// Transaction is expected would otherwise open one silently, and roll it back at the end
// of the call.
static_assert(!std::is_convertible_v<Connection&, Transaction>);
static_assert(!std::is_convertible_v<PooledConnection, Transaction>);
static_assert(std::is_constructible_v<Transaction, Connection&>);
static_assert(std::is_constructible_v<Transaction, PooledConnection>);

class TransactionTest : public ::testing::Test {
 protected:
  void SetUp() override { conn.execute_script("create table notes(id int primary key, body text)"); }
  std::int64_t count_notes(Connection& c) { return c.query_value<std::int64_t>("select count(*) from notes"); }

  pgstack::testing::TestDatabase db = TestCluster::shared().create_database();
  Connection conn{db.dsn()};
  Connection observer{db.dsn()};
};

TEST_F(TransactionTest, RollsBackUnlessCommitted) {
  {
    Transaction tx(conn);
    tx.query("insert into notes values (1, 'draft')");
    EXPECT_EQ(count_notes(conn), 1);      // visible inside
    EXPECT_EQ(count_notes(observer), 0);  // not outside
  }
  EXPECT_EQ(conn.transaction_status(), TransactionStatus::idle);
  EXPECT_EQ(count_notes(conn), 0);
}

TEST_F(TransactionTest, CommitMakesTheWorkVisible) {
  Transaction tx(conn);
  tx.query("insert into notes values ($1, $2)", 1, "kept");
  EXPECT_EQ(count_notes(observer), 0);
  tx.commit();
  EXPECT_FALSE(tx.is_open());
  EXPECT_EQ(count_notes(observer), 1);
  EXPECT_THROW(tx.query("select 1"), UsageError);  // it is over
  EXPECT_THROW(tx.commit(), UsageError);
}

TEST_F(TransactionTest, ExplicitRollbackDiscardsTheWork) {
  Transaction tx(conn);
  tx.query("insert into notes values (1, 'x')");
  tx.rollback();
  EXPECT_EQ(count_notes(conn), 0);
}

TEST_F(TransactionTest, RollbackToSavepointKeepsEarlierWork) {
  Transaction tx(conn);
  tx.query("insert into notes values (1, 'before')");
  {
    Savepoint sp = tx.savepoint();
    sp.query("insert into notes values (2, 'inside')");
    sp.rollback();
  }
  {
    Savepoint sp = tx.savepoint();
    sp.query("insert into notes values (3, 'released')");
    sp.release();
  }
  {
    Savepoint sp = tx.savepoint();
    sp.query("insert into notes values (4, 'dropped by the destructor')");
  }
  tx.commit();
  std::vector<std::int32_t> ids;
  for (Row row : observer.query("select id from notes order by id")) ids.push_back(row.get<std::int32_t>(0));
  EXPECT_EQ(ids, (std::vector<std::int32_t>{1, 3}));
}

TEST_F(TransactionTest, SavepointRecoversFromAFailedStatement) {
  Transaction tx(conn);
  tx.query("insert into notes values (1, 'first')");
  {
    Savepoint sp = tx.savepoint();
    EXPECT_THROW(sp.query("insert into notes values (1, 'duplicate')"), UniqueViolation);
  }  // rolled back to the savepoint: the transaction is usable again
  tx.query("insert into notes values (2, 'second')");
  tx.commit();
  EXPECT_EQ(count_notes(observer), 2);
}

TEST_F(TransactionTest, CommitAfterAFailedStatementThrowsAndKeepsNothing) {
  Transaction tx(conn);
  tx.query("insert into notes values (1, 'a')");
  EXPECT_THROW(tx.query("insert into notes values (1, 'b')"), UniqueViolation);
  EXPECT_THROW(tx.query("select 1"), InvalidTransactionState);  // 25P02: aborted
  try {
    tx.commit();
    FAIL() << "commit of a failed transaction reported success";
  } catch (const InvalidTransactionState& e) {
    EXPECT_EQ(e.sqlstate(), "25P02");
  }
  EXPECT_EQ(conn.transaction_status(), TransactionStatus::idle);
  EXPECT_EQ(count_notes(conn), 0);
}

TEST_F(TransactionTest, IsolationLevelsAreSetOnTheServer) {
  const std::pair<IsolationLevel, const char*> levels[] = {{IsolationLevel::read_committed, "read committed"},
                                                           {IsolationLevel::repeatable_read, "repeatable read"},
                                                           {IsolationLevel::serializable, "serializable"}};
  for (auto [level, name] : levels) {
    Transaction tx(conn, {.isolation = level});
    EXPECT_EQ(tx.query_value<std::string>("select current_setting('transaction_isolation')"), name);
  }
}

TEST_F(TransactionTest, RepeatableReadKeepsItsSnapshot) {
  Transaction tx(conn, {.isolation = IsolationLevel::repeatable_read});
  EXPECT_EQ(tx.query_value<std::int64_t>("select count(*) from notes"), 0);
  observer.query("insert into notes values (1, 'later')");
  EXPECT_EQ(tx.query_value<std::int64_t>("select count(*) from notes"), 0);
}

TEST_F(TransactionTest, ReadOnlyRejectsWrites) {
  Transaction tx(conn, {.read_only = true});
  EXPECT_EQ(tx.query_value<std::string>("select current_setting('transaction_read_only')"), "on");
  try {
    tx.query("insert into notes values (1, 'no')");
    FAIL() << "a read-only transaction wrote";
  } catch (const InvalidTransactionState& e) {
    EXPECT_EQ(e.sqlstate(), "25006");  // read_only_sql_transaction
  }
}

TEST_F(TransactionTest, StatementTimeoutAppliesInsideAndIsResetAfter) {
  {
    Transaction tx(conn, {.statement_timeout = 200ms});
    EXPECT_EQ(tx.query_value<std::string>("select current_setting('statement_timeout')"), "200ms");
    const auto start = std::chrono::steady_clock::now();
    EXPECT_THROW(tx.query("select pg_sleep(5)"), QueryCanceled);
    EXPECT_LT(std::chrono::steady_clock::now() - start, 3s);
  }
  EXPECT_EQ(conn.query_value<std::string>("select current_setting('statement_timeout')"), "0");
  {
    Transaction tx(conn, {.statement_timeout = 200ms, .lock_timeout = 100ms});
    tx.commit();
  }
  EXPECT_EQ(conn.query_value<std::string>("select current_setting('statement_timeout')"), "0");
  EXPECT_EQ(conn.query_value<std::string>("select current_setting('lock_timeout')"), "0");
  conn.query("select pg_sleep(0.3)");  // no timeout outside a transaction
}

TEST_F(TransactionTest, BeginInsideATransactionIsAUsageError) {
  Transaction tx(conn);
  EXPECT_THROW(Transaction nested(conn), UsageError);
  tx.query("insert into notes values (1, 'still fine')");
  tx.commit();
  EXPECT_EQ(count_notes(observer), 1);
}

TEST_F(TransactionTest, DestructorOnALostConnectionDoesNotThrow) {
  auto tx = std::make_unique<Transaction>(conn);
  tx->query("insert into notes values (1, 'x')");
  observer.query("select pg_terminate_backend($1)", conn.backend_pid());
  EXPECT_THROW(tx->query("select pg_sleep(0.1)"), ConnectionLost);
  EXPECT_NO_THROW(tx.reset());
  EXPECT_EQ(count_notes(observer), 0);
}

}  // namespace
}  // namespace pgstack::pg
