// The SQL side of issue 14, items 7 and 8, against a real PostgreSQL 15: enqueues notify
// only while a worker watches the queue (so they do not commit one at a time behind
// NOTIFY's lock), a claim retried with its token gets the batch it made, and
// job_batch_status tells a completion whose reply was lost from a lost lease.
#include <algorithm>
#include <optional>
#include <thread>

#include "pgstack/jobs/job_queue.h"
#include "pgstack/jobs/testing/jobs_fixture.h"
#include "pgstack/pg/errors.h"
#include "pgstack/pg/listener.h"
#include "pgstack/pg/transaction.h"

namespace pgstack::jobs {
namespace {

using namespace std::chrono_literals;

class WatchRecoveryTest : public JobsTest {
 protected:
  void SetUp() override { JobQueue::register_kind(conn_, "noop"); }
  std::string watch(pg::Connection& session) {
    return session.query_value<std::string>("select pgstack.job_queue_watch('default')");
  }
  // The notifications on pgstack_jobs within the wait.
  int notifications(pg::Listener& listener, std::chrono::milliseconds wait = 300ms) {
    int n = 0;
    while (listener.wait(wait)) ++n;
    return n;
  }
  static constexpr const char* kClaim =
      "select batch_id, id from pgstack.job_claim('default', $1, 10, 60, $2)";
};

TEST_F(WatchRecoveryTest, ClaimsRunWithoutJit) {
  // A first claim's plan crossed every JIT threshold and compiled for ~260 ms.
  auto config = conn_.query_value<std::vector<std::string>>(
      "select proconfig from pg_proc where oid = 'pgstack.job_claim(text, text, integer, double precision, uuid)'::regprocedure");
  EXPECT_NE(std::find(config.begin(), config.end(), "jit=off"), config.end()) << ::testing::PrintToString(config);
}

TEST_F(WatchRecoveryTest, EnqueuesNotifyOnlyWhileAWorkerWatchesTheQueue) {
  pg::Listener listener({.dsn = db_.dsn()});
  listener.listen("pgstack_jobs");
  JobQueue::enqueue(conn_, "noop");
  EXPECT_EQ(notifications(listener), 0) << "nobody watches: no NOTIFY, no commit lock";

  pg::Connection worker(db_.dsn());
  EXPECT_EQ(watch(worker), "watching");
  pg::Connection other(db_.dsn());
  EXPECT_EQ(watch(other), "watched") << "one watcher per queue is enough: every listener hears it";
  JobQueue::enqueue(conn_, "noop");
  {
    pg::Transaction tx(conn_);  // many jobs in one transaction: one notification
    for (int i = 0; i < 5; ++i) JobQueue::enqueue(tx, "noop");
    tx.commit();
  }
  EXPECT_EQ(notifications(listener), 2);

  EXPECT_TRUE(worker.query_value<bool>("select pgstack.job_queue_unwatch('default')"));
  EXPECT_FALSE(worker.query_value<bool>("select pgstack.job_queue_unwatch('default')")) << "it was not watching";
  JobQueue::enqueue(conn_, "noop");
  EXPECT_EQ(notifications(listener), 0) << "a busy worker is not told";
}

TEST_F(WatchRecoveryTest, AWatchCannotBeginWhileAnEnqueueThatDidNotNotifyIsInFlight) {
  pg::Connection worker(db_.dsn());
  pg::Transaction tx(conn_);
  JobQueue::enqueue(tx, "noop");  // nobody watched: it will not notify
  EXPECT_EQ(watch(worker), "enqueuing") << "the worker must claim again, not wait for a notification";
  tx.commit();
  EXPECT_EQ(watch(worker), "watching");
  EXPECT_EQ(worker.query(kClaim, "w", "4a8e3b7e-1c2d-4e5f-8a9b-0c1d2e3f4a5b").rows(), 1)
      << "the claim after the watch finds the job that committed before it";
}

TEST_F(WatchRecoveryTest, WatchingAnUnknownQueueIsRefused) {
  try {
    conn_.query("select pgstack.job_queue_watch('nope')");
    FAIL() << "watched a queue that does not exist";
  } catch (const pg::SqlError& e) {
    EXPECT_EQ(e.sqlstate(), "42704");
    EXPECT_NE(std::string(e.what()).find("unknown job queue 'nope'"), std::string::npos) << e.what();
  }
}

TEST_F(WatchRecoveryTest, AClaimRetriedWithItsTokenGetsTheBatchItMade) {
  std::vector<JobRequest> jobs(3, JobRequest{"noop", {}, {}});
  JobQueue::enqueue_many(conn_, jobs);
  const std::string token = "0f6c2a52-8d0b-4c1e-9a57-3b1f1e9d2c44";
  auto first = conn_.query(kClaim, "w", token);
  ASSERT_EQ(first.rows(), 3);
  // The reply was lost: the same claim again returns the same batch, not nothing.
  auto again = conn_.query(kClaim, "w", token);
  ASSERT_EQ(again.rows(), 3);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(again[i].get<std::int64_t>(0), first[i].get<std::int64_t>(0));
    EXPECT_EQ(again[i].get<std::int64_t>(1), first[i].get<std::int64_t>(1));
  }
  EXPECT_EQ(count("select count(*) from pgstack.job_batches"), 1) << "no second batch";
  // Jobs recorded as finished are not handed out again.
  auto batch = first[0].get<std::int64_t>(0);
  conn_.query("select pgstack.job_batch_checkpoint($1, 'w', $2)", batch, std::vector<std::int64_t>{first[0].get<std::int64_t>(1)});
  EXPECT_EQ(conn_.query(kClaim, "w", token).rows(), 2);
}

TEST_F(WatchRecoveryTest, AClaimTokenOfAnotherWorkerIsRefusedAndChangesNothing) {
  JobQueue::enqueue(conn_, "noop");
  const std::string token = "5d1e0c9a-2b3f-4a6d-8e7c-9f0a1b2c3d4e";
  ASSERT_EQ(conn_.query(kClaim, "w1", token).rows(), 1);
  auto lease = conn_.query_value<std::string>("select lease_expires_at::text from pgstack.job_batches");
  try {
    conn_.query(kClaim, "w2", token);
    FAIL() << "another worker's claim token was accepted";
  } catch (const pg::SqlError& e) {
    EXPECT_EQ(e.sqlstate(), "22023");
    EXPECT_NE(std::string(e.what()).find("was used by worker 'w1'"), std::string::npos) << e.what();
  }
  EXPECT_EQ(conn_.query_value<std::string>("select lease_expires_at::text from pgstack.job_batches"), lease);
  EXPECT_EQ(count("select count(*) from pgstack.job_batches where worker = 'w1'"), 1);
}

TEST_F(WatchRecoveryTest, BatchStatusTellsHeldFromFinishedFromLost) {
  std::vector<JobRequest> jobs(2, JobRequest{"noop", {}, {}});
  JobQueue::enqueue_many(conn_, jobs);
  auto status = [&](std::int64_t b) {
    return conn_.query_value<std::string>("select pgstack.job_batch_status($1, 'w')", b);
  };
  auto done = conn_.query_value<std::int64_t>("select batch_id from pgstack.job_claim('default', 'w', 1) limit 1");
  EXPECT_EQ(status(done), "held");
  conn_.query("select pgstack.job_batch_complete($1, 'w')", done);
  EXPECT_EQ(status(done), "finished") << "a completion whose reply was lost is known to have committed";

  auto lost = conn_.query_value<std::int64_t>("select batch_id from pgstack.job_claim('default', 'w', 1, 1) limit 1");
  std::this_thread::sleep_for(1100ms);  // time passing: the claim's 1 s lease runs out
  EXPECT_EQ(JobQueue::maintain(conn_)["rescued"], 1);
  EXPECT_EQ(status(lost), "lost");
  EXPECT_EQ(count("select count(*) from pgstack.job_batch_losses where worker = 'w' and queue = 'default'"), 1);
}

// A snoozed job keeps its attempt number, so its stream holds two rows of one attempt:
// the one it ran from and the one it runs from next. Its state is the later one's.
TEST_F(WatchRecoveryTest, ASnoozedJobBackInTheStreamIsAvailableNotCompleted) {
  auto id = JobQueue::enqueue(conn_, "noop").id;
  auto batch = conn_.query_value<std::int64_t>("select batch_id from pgstack.job_claim('default', 'w', 1) limit 1");
  conn_.query("select pgstack.job_batch_complete($1, 'w', $2)", batch,
              nlohmann::json::array({{{"id", id}, {"outcome", "snooze"}, {"delay_seconds", 0}}}));
  EXPECT_EQ(JobQueue::maintain(conn_)["promoted"], 1);
  ASSERT_EQ(count("select count(*) from pgstack.job_stream where attempt = 1"), 2);
  EXPECT_EQ(state_of(id), "available");
  auto again = conn_.query_value<std::int64_t>("select batch_id from pgstack.job_claim('default', 'w', 1) limit 1");
  EXPECT_EQ(state_of(id), "running");
  conn_.query("select pgstack.job_batch_complete($1, 'w')", again);
  EXPECT_EQ(state_of(id), "completed");
}

}  // namespace
}  // namespace pgstack::jobs
