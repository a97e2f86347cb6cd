// Pipelines: many statements in one round trip, results in order, and an error in the
// middle that throws and leaves the connection clean.
#include "pgstack/pg/pipeline.h"

#include <gtest/gtest.h>

#include "pgstack/pg/transaction.h"
#include "pgstack/testing/test_cluster.h"

namespace pgstack::pg {
namespace {

using pgstack::testing::TestCluster;

class PipelineTest : public ::testing::Test {
 protected:
  pgstack::testing::TestDatabase db = TestCluster::shared().create_database();
  Connection conn{db.dsn()};
};

TEST_F(PipelineTest, TenThousandQueriesReturnAllResultsInOrder) {
  Pipeline batch(conn);
  constexpr int kQueries = 10'000;
  for (int i = 0; i < kQueries; ++i) EXPECT_EQ(batch.add("select $1::int * 2, $2::text", i, std::to_string(i)), std::size_t(i));
  EXPECT_EQ(batch.size(), std::size_t(kQueries));
  std::vector<Result> results = batch.run();
  ASSERT_EQ(results.size(), std::size_t(kQueries));
  for (int i = 0; i < kQueries; ++i) {
    ASSERT_EQ(results[i].rows(), 1) << i;
    ASSERT_EQ(results[i][0].get<std::int32_t>(0), i * 2) << i;
    ASSERT_EQ(results[i][0].get<std::string>(1), std::to_string(i)) << i;
  }
  EXPECT_EQ(batch.size(), 0u);  // run() empties the queue
  EXPECT_EQ(conn.transaction_status(), TransactionStatus::idle);
}

TEST_F(PipelineTest, WritesAndReadsMixAndCountTheirRows) {
  conn.execute_script("create table events(id int primary key, kind text)");
  Pipeline batch(conn);
  for (int i = 0; i < 1000; ++i) batch.add("insert into events values ($1, $2)", i, i % 2 ? "odd" : "even");
  batch.add("select count(*) from events where kind = $1", "odd");
  batch.add("delete from events where id >= $1", 990);
  auto results = batch.run();
  ASSERT_EQ(results.size(), 1002u);
  EXPECT_EQ(results[0].affected_rows(), 1);
  EXPECT_EQ(results[1000][0].get<std::int64_t>(0), 500);
  EXPECT_EQ(results[1001].affected_rows(), 10);
  EXPECT_EQ(conn.query_value<std::int64_t>("select count(*) from events"), 990);
}

TEST_F(PipelineTest, ErrorInTheMiddleThrowsAndLeavesTheConnectionClean) {
  conn.execute_script("create table events(id int primary key)");
  Pipeline batch(conn);
  for (int i = 0; i < 500; ++i) batch.add("insert into events values ($1)", i);
  batch.add("insert into events values ($1)", 7);  // duplicate
  for (int i = 500; i < 1000; ++i) batch.add("insert into events values ($1)", i);
  try {
    batch.run();
    FAIL() << "the duplicate key went unnoticed";
  } catch (const UniqueViolation& e) {
    EXPECT_NE(e.fields().detail.find("(id)=(7)"), std::string::npos) << e.fields().detail;
  }
  // One sync, one implicit transaction: nothing of the batch was kept.
  EXPECT_EQ(conn.transaction_status(), TransactionStatus::idle);
  EXPECT_EQ(conn.query_value<std::int64_t>("select count(*) from events"), 0);
  // The connection works for plain statements and for another pipeline.
  Pipeline again(conn);
  again.add("insert into events values ($1)", 1);
  again.add("select count(*) from events");
  auto results = again.run();
  EXPECT_EQ(results[1][0].get<std::int64_t>(0), 1);
}

TEST_F(PipelineTest, ErrorInAPipelineInsideATransactionFailsTheTransaction) {
  conn.execute_script("create table events(id int primary key)");
  Transaction tx(conn);
  tx.query("insert into events values (100)");
  Pipeline batch(conn);
  batch.add("insert into events values (1)");
  batch.add("select 1 / $1::int", 0);
  EXPECT_THROW(batch.run(), DataException);
  EXPECT_EQ(conn.transaction_status(), TransactionStatus::in_error);
  tx.rollback();
  EXPECT_EQ(conn.query_value<std::int64_t>("select count(*) from events"), 0);
}

TEST_F(PipelineTest, EmptyPipelineRunsNothing) {
  Pipeline batch(conn);
  EXPECT_TRUE(batch.run().empty());
  EXPECT_EQ(conn.query_value<std::int32_t>("select 1"), 1);
}

TEST_F(PipelineTest, LostConnectionThrowsConnectionLost) {
  Connection admin(db.dsn());
  admin.query("select pg_terminate_backend($1)", conn.backend_pid());
  admin.query("select pg_sleep(0.1)");
  Pipeline batch(conn);
  for (int i = 0; i < 10; ++i) batch.add("select $1::int", i);
  EXPECT_THROW(batch.run(), ConnectionLost);
}

}  // namespace
}  // namespace pgstack::pg

namespace pgstack::pg {
namespace {

// The prepared-statement cache inside pipelines: statements prepared in one batch are
// used by name in the next; when the server has dropped them, the batch is resent —
// but only when nothing in it had run.
class PipelineCacheTest : public PipelineTest {};

TEST_F(PipelineCacheTest, BatchIsResentWhenTheServerDroppedItsStatements) {
  auto run_batch = [&] {
    Pipeline batch(conn);
    for (int i = 0; i < 3; ++i) batch.add("select $1::int + 1", i);
    return batch.run();
  };
  run_batch();
  EXPECT_EQ(conn.query_value<std::int64_t>("select count(*) from pg_prepared_statements where statement like 'select $1::int + 1%'"), 1);
  conn.execute_script("DEALLOCATE ALL");  // what a pooler's server_reset_query does
  auto results = run_batch();
  ASSERT_EQ(results.size(), 3u);
  EXPECT_EQ(results[2][0].get<std::int32_t>(0), 3);
}

TEST_F(PipelineCacheTest, BatchThatCommittedBeforeTheMissingStatementIsNotResent) {
  conn.execute_script("create table ledger(id int)");
  {
    Pipeline warm(conn);
    warm.add("select $1::int + 1", 1);
    warm.run();
  }
  conn.execute_script("DEALLOCATE ALL");
  Pipeline batch(conn);
  batch.add("begin");
  batch.add("insert into ledger values ($1)", 1);
  batch.add("commit");
  batch.add("select $1::int + 1", 2);  // cached by name, gone from the server
  EXPECT_THROW(batch.run(), SqlError);
  // Sent once: the committed insert is there once, not twice.
  EXPECT_EQ(conn.query_value<std::int64_t>("select count(*) from ledger"), 1);
  // The cache forgot the missing statement, so the next batch works.
  Pipeline again(conn);
  again.add("select $1::int + 1", 2);
  EXPECT_EQ(again.run()[0][0].get<std::int32_t>(0), 3);
}

}  // namespace
}  // namespace pgstack::pg
