// The SQL API and JobQueue against a real PostgreSQL 15: enqueue in the caller's
// transaction, bulk enqueue, claim order under out-of-order commits, unique keys under
// concurrency, outcomes, cancel, retry, pause, limits, and bad input changing nothing.
#include "pgstack/jobs/job_queue.h"

#include <atomic>
#include <barrier>
#include <set>
#include <thread>

#include "pgstack/jobs/testing/jobs_fixture.h"
#include "pgstack/pg/errors.h"
#include "pgstack/pg/transaction.h"

namespace pgstack::jobs {
namespace {

using namespace std::chrono_literals;

class JobQueueTest : public JobsTest {
 protected:
  void SetUp() override {
    JobQueue::register_kind(conn_, "noop");
    JobQueue::create_queue(conn_, "mail");
    JobQueue::register_kind(conn_, "email", {.queue = "mail", .max_attempts = 3});
  }
  // Claims up to n jobs of a queue as worker w; returns (batch id, job ids).
  std::pair<std::int64_t, std::vector<std::int64_t>> claim(const std::string& queue, int n, const std::string& w = "w") {
    auto rows = conn_.query("select batch_id, id from pgstack.job_claim($1, $2, $3)", queue, w, n);
    std::vector<std::int64_t> ids;
    std::int64_t batch = 0;
    for (auto row : rows) {
      batch = row.get<std::int64_t>(0);
      ids.push_back(row.get<std::int64_t>(1));
    }
    return {batch, ids};
  }
  std::int64_t jobs_anywhere() {
    return count("select (select count(*) from pgstack.job_stream) + (select count(*) from pgstack.job_scheduled) + "
                 "(select count(*) from pgstack.job_history)");
  }
};

TEST_F(JobQueueTest, EnqueueCommitsAndRollsBackWithTheCallersTransaction) {
  conn_.query("create table orders (id bigint primary key)");
  {
    pg::Transaction tx(conn_);
    tx.query("insert into orders values (1)");
    JobQueue::enqueue(tx, "noop", {{"order", 1}});
    // rolled back: neither the order nor the job
  }
  EXPECT_EQ(count("select count(*) from orders"), 0);
  EXPECT_EQ(jobs_anywhere(), 0);
  pg::Transaction tx(conn_);
  tx.query("insert into orders values (2)");
  auto r = JobQueue::enqueue(tx, "noop", {{"order", 2}});
  tx.commit();
  EXPECT_FALSE(r.duplicate);
  EXPECT_EQ(state_of(r.id), "available");
  auto job = JobQueue::job(conn_, r.id);
  ASSERT_TRUE(job);
  EXPECT_EQ(job->args, nlohmann::json({{"order", 2}}));
  EXPECT_EQ(job->queue, "default");
  EXPECT_EQ(job->attempt, 1);
}

TEST_F(JobQueueTest, BulkEnqueuesOneHundredThousandJobsInOneCall) {
  std::vector<JobRequest> batch;
  for (int i = 0; i < 100000; ++i) batch.push_back({"noop", {{"n", i}}, {}});
  auto t0 = std::chrono::steady_clock::now();
  auto results = JobQueue::enqueue_many(conn_, batch, {"bulk"});
  auto elapsed = std::chrono::steady_clock::now() - t0;
  ASSERT_EQ(results.size(), 100000u);
  std::set<std::int64_t> ids;
  for (auto& r : results) ids.insert(r.id);
  EXPECT_EQ(ids.size(), 100000u);
  EXPECT_LT(results.front().id, results.back().id);  // in input order
  EXPECT_EQ(count("select count(*) from pgstack.job_stream where 'bulk' = any(tags)"), 100000);
  EXPECT_EQ(conn_.query_value<std::int64_t>("select available from pgstack.job_queue_stats() where queue = 'default'"),
            100000);
  // The args of job i are {"n": i}: the arrays were matched element by element.
  EXPECT_EQ(conn_.query_value<nlohmann::json>("select args from pgstack.job_stream where id = $1", results[4242].id),
            nlohmann::json({{"n", 4242}}));
  std::cout << "enqueue_many: 100k jobs in "
            << std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count() << " ms\n";
}

TEST_F(JobQueueTest, ClaimsEveryJobOnceWhenTransactionsCommitOutOfOrder) {
  // A takes its id first but commits last: an id-range cursor would skip it.
  pg::Connection other(db_.dsn());
  pg::Transaction a(other);
  auto a_id = JobQueue::enqueue(a, "noop").id;
  auto b_id = JobQueue::enqueue(conn_, "noop").id;
  ASSERT_LT(a_id, b_id);
  auto [batch1, first] = claim("default", 10);
  EXPECT_EQ(first, std::vector<std::int64_t>{b_id});
  a.commit();
  auto [batch2, second] = claim("default", 10);
  EXPECT_EQ(second, std::vector<std::int64_t>{a_id});
  EXPECT_TRUE(claim("default", 10).second.empty());
  conn_.query("select pgstack.job_batch_complete($1, 'w')", batch1);
  conn_.query("select pgstack.job_batch_complete($1, 'w')", batch2);
  EXPECT_EQ(state_of(a_id), "completed");
  EXPECT_EQ(state_of(b_id), "completed");
}

TEST_F(JobQueueTest, ClaimsHigherPriorityFirstAndInChunks) {
  std::vector<JobRequest> batch;
  for (int i = 0; i < 5; ++i) batch.push_back({"noop", {}, {.priority = 5}});
  for (int i = 0; i < 5; ++i) batch.push_back({"noop", {}, {.priority = 1}});
  auto ids = JobQueue::enqueue_many(conn_, batch);
  auto [b1, got1] = claim("default", 3);
  ASSERT_EQ(got1.size(), 3u);
  for (auto id : got1) EXPECT_GE(id, ids[5].id) << "a priority-1 job comes first";
  auto [b2, got2] = claim("default", 10);
  EXPECT_EQ(got2.size(), 2u);  // the rest of priority 1: a chunk never mixes priorities
  auto [b3, got3] = claim("default", 10);
  EXPECT_EQ(got3.size(), 5u);
}

TEST_F(JobQueueTest, SixteenConcurrentEnqueuersOfOneUniqueKeyMakeOneJob) {
  constexpr int kThreads = 16;
  std::barrier start(kThreads);
  std::vector<EnqueueResult> results(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      pg::Connection conn(db_.dsn());
      pg::Transaction tx(conn);
      start.arrive_and_wait();
      results[t] = JobQueue::enqueue(tx, "email", {{"to", "a@example.com"}}, {.unique_key = "welcome:42"});
      std::this_thread::sleep_for(20ms);  // hold the key while the others try
      tx.commit();
    });
  for (auto& th : threads) th.join();
  int created = 0;
  for (auto& r : results) {
    created += !r.duplicate;
    EXPECT_EQ(r.id, results[0].id) << "every duplicate names the job that holds the key";
  }
  EXPECT_EQ(created, 1);
  EXPECT_EQ(count("select count(*) from pgstack.job_stream"), 1);
  // The key is held until the job ends; then it is free again.
  EXPECT_TRUE(JobQueue::enqueue(conn_, "email", {}, {.unique_key = "welcome:42"}).duplicate);
  auto [batch, ids] = claim("mail", 10);
  conn_.query("select pgstack.job_batch_complete($1, 'w')", batch);
  EXPECT_FALSE(JobQueue::enqueue(conn_, "email", {}, {.unique_key = "welcome:42"}).duplicate);
}

TEST_F(JobQueueTest, APendingUniqueKeyIsFreeOnceItsJobStarts) {
  auto first = JobQueue::enqueue(conn_, "noop", {}, {.unique_key = "reindex:7", .unique_while = UniqueWhile::pending});
  EXPECT_TRUE(JobQueue::enqueue(conn_, "noop", {}, {.unique_key = "reindex:7", .unique_while = UniqueWhile::pending})
                  .duplicate) << "held while waiting";
  auto [b, ids] = claim("default", 10);
  ASSERT_EQ(ids, std::vector<std::int64_t>{first.id});
  auto second = JobQueue::enqueue(conn_, "noop", {}, {.unique_key = "reindex:7", .unique_while = UniqueWhile::pending});
  EXPECT_FALSE(second.duplicate) << "free once the first started: one more may wait while it runs";
  conn_.query("select pgstack.job_batch_complete($1, 'w')", b);
  EXPECT_TRUE(JobQueue::enqueue(conn_, "noop", {}, {.unique_key = "reindex:7"}).duplicate)
      << "completing the first did not release the second's key";
  try {
    conn_.query("select pgstack.job_enqueue('noop', unique_key => 'k', unique_while => 'forever')");
    FAIL() << "an unknown unique_while was accepted";
  } catch (const pg::SqlError& e) {
    EXPECT_NE(std::string(e.what()).find("invalid unique_while 'forever'"), std::string::npos) << e.what();
  }
}

TEST_F(JobQueueTest, FailedAttemptsRetryWithTheirErrorsThenAreDiscarded) {
  auto id = JobQueue::enqueue(conn_, "email", {{"to", "x"}}).id;  // max_attempts 3
  for (int attempt = 1; attempt <= 3; ++attempt) {
    auto [batch, ids] = claim("mail", 10);
    ASSERT_EQ(ids, std::vector<std::int64_t>{id}) << "attempt " << attempt;
    EXPECT_EQ(conn_.query_value<std::int32_t>("select attempt from pgstack.job($1)", id), attempt);
    conn_.query("select pgstack.job_batch_complete($1, 'w', $2)", batch,
                nlohmann::json::array({{{"id", id}, {"outcome", "retry"}, {"error", "smtp down #" + std::to_string(attempt)},
                                        {"delay_seconds", 0}}}));
    if (attempt < 3) {
      EXPECT_EQ(state_of(id), "retryable");
      conn_.query("select pgstack.jobs_maintain()");  // moves the due retry back into the stream
    }
  }
  EXPECT_EQ(state_of(id), "discarded");
  auto job = JobQueue::job(conn_, id);
  ASSERT_TRUE(job);
  ASSERT_EQ(job->errors.size(), 3u);
  EXPECT_EQ(job->errors[2]["error"], "smtp down #3");
  EXPECT_EQ(job->errors[0]["attempt"], 1);
  // An operator retries it: one more attempt.
  JobQueue::retry(conn_, id);
  EXPECT_EQ(state_of(id), "available");
  EXPECT_EQ(conn_.query_value<std::int32_t>("select attempt from pgstack.job($1)", id), 4);
}

TEST_F(JobQueueTest, DefaultBackoffGrowsWithTheAttempt) {
  std::vector<JobRequest> batch(2, JobRequest{"noop", {}, {}});
  auto ids = JobQueue::enqueue_many(conn_, batch);
  auto [b, got] = claim("default", 10);
  conn_.query("select pgstack.job_batch_complete($1, 'w', $2)", b,
              nlohmann::json::array({{{"id", ids[0].id}, {"outcome", "retry"}, {"error", "e"}},
                                     {{"id", ids[1].id}, {"outcome", "snooze"}, {"delay_seconds", 600}}}));
  // attempt 1 → about 1 s (1^4 ± 10%); the snoozed job keeps its attempt number.
  auto delay = conn_.query_value<double>("select extract(epoch from run_at - now()) from pgstack.job_scheduled where id = $1",
                                         ids[0].id);
  EXPECT_GT(delay, 0.5);
  EXPECT_LT(delay, 1.5);
  EXPECT_EQ(conn_.query_value<std::int32_t>("select attempt from pgstack.job_scheduled where id = $1", ids[1].id), 1);
  EXPECT_EQ(state_of(ids[1].id), "scheduled");
}

TEST_F(JobQueueTest, ScheduledJobsBecomeAvailableWhenDue) {
  auto soon = std::chrono::system_clock::now() + 1s;
  auto id = JobQueue::enqueue(conn_, "noop", {}, {.run_at = soon}).id;
  EXPECT_EQ(state_of(id), "scheduled");
  EXPECT_TRUE(claim("default", 10).second.empty());
  ASSERT_TRUE(eventually([&] {
    conn_.query("select pgstack.jobs_maintain()");
    return state_of(id) == "available";
  }));
  EXPECT_GE(std::chrono::system_clock::now(), soon);
  EXPECT_EQ(claim("default", 10).second, std::vector<std::int64_t>{id});
}

TEST_F(JobQueueTest, CancelsWaitingJobsAtOnceAndFlagsAvailableOnes) {
  auto later = JobQueue::enqueue(conn_, "noop", {}, {.run_at = std::chrono::system_clock::now() + 1h}).id;
  EXPECT_TRUE(JobQueue::cancel(conn_, later));
  EXPECT_EQ(state_of(later), "cancelled");
  auto ready = JobQueue::enqueue(conn_, "noop").id;
  EXPECT_FALSE(JobQueue::cancel(conn_, ready));  // requested: the worker skips it
  auto rows = conn_.query("select batch_id, cancelled from pgstack.job_claim('default', 'w', 10)");
  ASSERT_EQ(rows.rows(), 1);
  EXPECT_TRUE(rows[0].get<bool>(1));
  conn_.query("select pgstack.job_batch_complete($1, 'w', $2)", rows[0].get<std::int64_t>(0),
              nlohmann::json::array({{{"id", ready}, {"outcome", "cancel"}, {"error", "cancelled before it started"}}}));
  EXPECT_EQ(state_of(ready), "cancelled");
  EXPECT_EQ(count("select count(*) from pgstack.job_cancellations"), 0);
  // Ended jobs cannot be cancelled; the error says why.
  try {
    JobQueue::cancel(conn_, ready);
    FAIL() << "cancelling a cancelled job succeeded";
  } catch (const pg::SqlError& e) {
    EXPECT_NE(std::string(e.what()).find("has already ended (cancelled)"), std::string::npos) << e.what();
  }
  EXPECT_THROW(JobQueue::cancel(conn_, 999999), pg::SqlError);
}

TEST_F(JobQueueTest, PausedQueuesAndConcurrencyLimitsHoldBackClaims) {
  std::vector<JobRequest> batch(20, JobRequest{"noop", {}, {}});
  JobQueue::enqueue_many(conn_, batch);
  JobQueue::pause(conn_, "default");
  EXPECT_TRUE(claim("default", 10).second.empty());
  JobQueue::resume(conn_, "default");
  JobQueue::set_concurrency_limit(conn_, "default", 5);
  auto [b1, first] = claim("default", 10, "w1");
  EXPECT_EQ(first.size(), 5u);
  EXPECT_TRUE(claim("default", 10, "w2").second.empty()) << "the limit counts every worker's claims";
  conn_.query("select pgstack.job_batch_complete($1, 'w1')", b1);
  EXPECT_EQ(claim("default", 10, "w2").second.size(), 5u);
}

TEST_F(JobQueueTest, ALostLeaseOffersOnlyUnfinishedJobsAgainAsTheNextAttempt) {
  std::vector<JobRequest> batch(4, JobRequest{"noop", {}, {}});
  auto ids = JobQueue::enqueue_many(conn_, batch);
  auto rows = conn_.query("select batch_id from pgstack.job_claim('default', 'dead', 10, 1)");
  auto b = rows[0].get<std::int64_t>(0);
  // Two finished before the worker died; they must never run again.
  conn_.query("select pgstack.job_batch_checkpoint($1, 'dead', $2, '[]', 1)", b,
              std::vector<std::int64_t>{ids[0].id, ids[1].id});
  std::this_thread::sleep_for(1100ms);  // time passing: the claim's 1 s lease runs out
  auto report = JobQueue::maintain(conn_);
  EXPECT_EQ(report["rescued"], 2);
  auto [b2, again] = claim("default", 10, "alive");
  EXPECT_EQ(std::set<std::int64_t>(again.begin(), again.end()), (std::set<std::int64_t>{ids[2].id, ids[3].id}));
  EXPECT_EQ(conn_.query_value<std::int32_t>("select attempt from pgstack.job($1)", ids[2].id), 2);
  auto errors = conn_.query_value<nlohmann::json>("select errors from pgstack.job($1)", ids[2].id);
  EXPECT_NE(errors[0]["error"].get<std::string>().find("stopped renewing the lease"), std::string::npos);
  // The dead worker's late completion is refused, so the first attempt never completes twice.
  try {
    conn_.query("select pgstack.job_batch_complete($1, 'dead')", b);
    FAIL() << "a lost batch completed";
  } catch (const pg::SqlError& e) {
    EXPECT_EQ(e.sqlstate(), "55000");
  }
  EXPECT_EQ(state_of(ids[0].id), "completed");
}

// Finished work leaves by TRUNCATE of a whole partition (slot), never by row deletes;
// a slot is truncated only once every row in it is handed out and finished.
TEST_F(JobQueueTest, FinishedPartitionsAreTruncatedButNeverOnesWithUnfinishedJobs) {
  JobQueue::create_queue(conn_, "idle");
  std::vector<JobRequest> batch(10, JobRequest{"noop", {}, {}});
  auto ids = JobQueue::enqueue_many(conn_, batch);
  auto waiting = JobQueue::enqueue(conn_, "noop", {}, {.queue = "idle"}).id;  // nobody works this queue yet
  const auto slot = conn_.query_value<std::int16_t>("select slot from pgstack.job_stream where id = $1", ids[0].id);
  ASSERT_EQ(conn_.query_value<std::int16_t>("select slot from pgstack.job_stream where id = $1", waiting), slot);
  auto [b, got] = claim("default", 100);
  ASSERT_EQ(got.size(), 10u);
  conn_.query("select pgstack.job_batch_complete($1, 'w')", b);
  // A new epoch on the next slot at every maintenance run from now on.
  conn_.query("update pgstack.job_settings set rotation_interval = '0'");
  auto rotated = JobQueue::maintain(conn_);
  ASSERT_EQ(rotated["rotated"], true) << rotated;
  EXPECT_NE(conn_.query_value<std::int16_t>("select pgstack.job_slot(pg_current_xact_id())"), slot);
  claim("default", 100);  // an idle poll moves the default queue's tick past the finished rows
  auto report = JobQueue::maintain(conn_);
  EXPECT_EQ(report["truncated_slots"], nlohmann::json::array()) << "the idle queue's job is not finished: " << report;
  EXPECT_EQ(report["rotated"], false) << "the new slot is empty: nothing to rotate away from";
  EXPECT_EQ(state_of(waiting), "available");
  EXPECT_EQ(state_of(ids[0].id), "completed");

  auto [b2, got2] = claim("idle", 100);
  ASSERT_EQ(got2, std::vector<std::int64_t>{waiting});
  conn_.query("select pgstack.job_batch_complete($1, 'w')", b2);
  claim("idle", 100);
  report = JobQueue::maintain(conn_);
  EXPECT_EQ(report["truncated_slots"], nlohmann::json::array({slot})) << report;
  EXPECT_EQ(count("select count(*) from pgstack.job_stream"), 0);
  EXPECT_EQ(state_of(ids[0].id), "(none)") << "a truncated completed job leaves no trace";
  // New work after the truncation runs as before, in the new slot.
  auto fresh = JobQueue::enqueue(conn_, "noop").id;
  EXPECT_NE(conn_.query_value<std::int16_t>("select slot from pgstack.job_stream where id = $1", fresh), slot);
  EXPECT_EQ(claim("default", 100).second, std::vector<std::int64_t>{fresh});
}

// A repeatable-read transaction whose snapshot predates a new epoch writes to the old
// slot; that slot must not be truncated under its job.
TEST_F(JobQueueTest, AJobWrittenToTheOldSlotAfterRotationIsNotLost) {
  JobQueue::enqueue(conn_, "noop");
  conn_.query("update pgstack.job_settings set rotation_interval = '0'");
  pg::Connection late(db_.dsn());
  pg::Transaction tx(late, {.isolation = pg::IsolationLevel::repeatable_read});
  tx.query("select 1");  // its snapshot is taken now
  ASSERT_EQ(JobQueue::maintain(conn_)["rotated"], true);
  auto late_id = JobQueue::enqueue(tx, "noop").id;
  tx.commit();
  EXPECT_EQ(conn_.query_value<std::int16_t>("select slot from pgstack.job_stream where id = $1", late_id),
            conn_.query_value<std::int16_t>("select slot from pgstack.job_epochs where epoch = 0"))
      << "the late transaction did not see the new epoch";
  // Everything else is finished; the late job sits in the old slot, unclaimed.
  for (int i = 0; i < 3; ++i) {
    auto [b, ids] = claim("default", 100);
    if (b) conn_.query("select pgstack.job_batch_complete($1, 'w')", b);
    bool got_late = std::find(ids.begin(), ids.end(), late_id) != ids.end();
    if (got_late) break;
    auto report = JobQueue::maintain(conn_);
    EXPECT_EQ(state_of(late_id) == "(none)", false) << "the late job was truncated away: " << report;
  }
  EXPECT_EQ(state_of(late_id), "completed");
  // And once it is done, the old slot is truncated: a late writer does not block it for good.
  claim("default", 100);
  auto report = JobQueue::maintain(conn_);
  EXPECT_EQ(count("select count(*) from pgstack.job_stream where id = " + std::to_string(late_id)), 0) << report;
}

TEST_F(JobQueueTest, BadInputGetsAClearErrorAndChangesNothing) {
  JobQueue::enqueue(conn_, "noop");
  const auto before = jobs_anywhere();
  auto expect_error = [&](const std::function<void()>& call, const std::string& words) {
    try {
      call();
      ADD_FAILURE() << "no error; expected one saying: " << words;
    } catch (const pg::SqlError& e) {
      EXPECT_NE(std::string(e.what()).find(words), std::string::npos) << e.what();
    }
    EXPECT_EQ(jobs_anywhere(), before) << "a failed call changed something: " << words;
  };
  expect_error([&] { JobQueue::enqueue(conn_, "no_such_kind"); }, "unknown job kind 'no_such_kind'");
  expect_error([&] { JobQueue::enqueue(conn_, "noop", {}, {.queue = "nope"}); }, "unknown job queue 'nope'");
  expect_error([&] { JobQueue::enqueue(conn_, "noop", {}, {.priority = -1}); }, "invalid priority -1");
  expect_error([&] { JobQueue::enqueue(conn_, "noop", {}, {.priority = 2000000000}); }, "invalid priority 2000000000");
  expect_error([&] { JobQueue::enqueue(conn_, "noop", {}, {.max_attempts = 0}); }, "invalid max_attempts 0");
  expect_error([&] { JobQueue::enqueue(conn_, "noop", {}, {.unique_key = std::string(600, 'k')}); },
               "invalid unique key of 600 characters");
  expect_error([&] { conn_.query("select pgstack.job_enqueue('noop', $1::text::jsonb)", "{not json"); },
               "invalid input syntax for type json");
  expect_error([&] { conn_.query("select pgstack.job_enqueue('noop', 'null')"); }, "has no args");
  // One bad job in a bulk call: none of the good ones go in either.
  std::vector<JobRequest> mixed(3, JobRequest{"noop", {}, {}});
  mixed[2].kind = "typo";
  expect_error([&] { JobQueue::enqueue_many(conn_, mixed); }, "unknown job kind 'typo' (job 3 of 3)");
  expect_error([&] { conn_.query("select pgstack.job_queue_create('Bad Name')"); }, "invalid job queue name");
  expect_error([&] { conn_.query("select pgstack.job_kind_register('x', max_attempts => 0)"); }, "invalid max_attempts");
  expect_error([&] { JobQueue::list(conn_, std::string("nope")); }, "unknown job queue 'nope'");
  EXPECT_THROW(parse_job_state("finished"), pg::UsageError);
}

TEST_F(JobQueueTest, StatsCountJobsByStateAndListShowsThem) {
  std::vector<JobRequest> batch(3, JobRequest{"noop", {}, {}});
  JobQueue::enqueue_many(conn_, batch);
  JobQueue::enqueue(conn_, "noop", {}, {.run_at = std::chrono::system_clock::now() + 1h});
  auto [b, ids] = claim("default", 1);
  auto stats = JobQueue::stats(conn_);
  auto it = std::find_if(stats.begin(), stats.end(), [](auto& s) { return s.queue == "default"; });
  ASSERT_NE(it, stats.end());
  EXPECT_EQ(it->available, 2);
  EXPECT_EQ(it->running, 1);
  EXPECT_EQ(it->scheduled, 1);
  EXPECT_TRUE(it->oldest_available_at.has_value());
  auto running = JobQueue::list(conn_, std::string("default"), JobState::running);
  ASSERT_EQ(running.size(), 1u);
  EXPECT_EQ(running[0].id, ids[0]);
  EXPECT_EQ(JobQueue::list(conn_).size(), 4u);
  conn_.query("select pgstack.job_batch_complete($1, 'w')", b);
  EXPECT_EQ(JobQueue::stats(conn_)[0].completed, 1);
}

}  // namespace
}  // namespace pgstack::jobs
