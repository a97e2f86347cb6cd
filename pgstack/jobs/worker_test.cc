// The Worker runtime against a real PostgreSQL 15, with real faults: a worker process
// killed with SIGKILL mid-job, the server restarted during a run, eight workers on one
// queue, retries to discard, cancellation of a running job, timeouts, graceful stop,
// LISTEN/NOTIFY wake-up, a claim and a completion that committed but whose replies an
// immediate restart lost, and periodic jobs among three competing processes.
#include "pgstack/jobs/worker.h"

#include <signal.h>

#include <atomic>
#include <map>
#include <mutex>
#include <set>

#include "pgstack/jobs/job_queue.h"
#include "pgstack/jobs/testing/jobs_fixture.h"
#include "pgstack/pg/errors.h"
#include "pgstack/sys/process.h"

namespace pgstack::jobs {
namespace {

using namespace std::chrono_literals;

// Every (job, attempt) a handler started, across all workers of a test.
struct RunLog {
  std::mutex mutex;
  std::map<std::pair<std::int64_t, int>, int> runs;
  std::set<std::int64_t> ids;
  void add(const Job& j) {
    std::lock_guard lock(mutex);
    ++runs[{j.id, j.attempt}];
    ids.insert(j.id);
  }
  std::size_t distinct_jobs() {
    std::lock_guard lock(mutex);
    return ids.size();
  }
  // (job, attempt) pairs that ran more than once.
  std::vector<std::string> repeated() {
    std::lock_guard lock(mutex);
    std::vector<std::string> out;
    for (auto& [key, n] : runs)
      if (n > 1) out.push_back(std::to_string(key.first) + "/" + std::to_string(key.second));
    return out;
  }
};

class WorkerTest : public JobsTest {
 protected:
  WorkerOptions options(std::string name = "w", int concurrency = 4) {
    return WorkerOptions{.dsn = db_.dsn(),
                         .queues = {{"default", concurrency}},
                         .name = std::move(name),
                         .batch_size = 50,
                         .poll_interval = 200ms,
                         .lease = 2000ms,
                         .heartbeat_interval = 500ms,
                         .maintenance_interval = 100ms,
                         .log = [](const std::string&) {}};
  }

  // The worker has nothing to claim and waits for a notification: its fetch session holds
  // the queue's watch (pgstack.job_queue_watch) and its listener session is subscribed.
  bool idle_and_listening(const std::string& queue) {
    return eventually([&] {
      return conn_.query_value<bool>(
          "select exists (select 1 from pg_locks where locktype = 'advisory' and mode = 'ExclusiveLock' and granted "
          "  and database = (select oid from pg_database where datname = current_database()) "
          "  and ((classid::bigint << 32) | objid::bigint) = pgstack.job_watch_key($1)) "
          "and exists (select 1 from pg_stat_activity where datname = current_database() "
          "  and query ilike 'listen %pgstack_jobs%')",
          queue);
    }, 10s);
  }
  std::vector<std::int64_t> enqueue(int n, const std::string& kind = "noop", EnqueueOptions o = {}) {
    std::vector<JobRequest> batch(n, JobRequest{kind, nlohmann::json::object(), o});
    std::vector<std::int64_t> ids;
    for (auto& r : JobQueue::enqueue_many(conn_, batch)) ids.push_back(r.id);
    return ids;
  }
  QueueStats stats() {
    for (auto& s : JobQueue::stats(conn_))
      if (s.queue == "default") return s;
    return {};
  }
  bool all_completed(std::int64_t n) {
    auto s = stats();
    return s.completed >= n && s.available == 0 && s.running == 0;
  }
};

TEST_F(WorkerTest, RunsEveryJobOnceAndCompletesThem) {
  RunLog log;
  Worker worker(options());
  worker.handle("noop", [&](JobContext& job) { log.add(job.job()); });
  worker.start();
  auto ids = enqueue(2000);
  ASSERT_TRUE(eventually([&] { return all_completed(2000); })) << "completed " << stats().completed;
  worker.stop();
  EXPECT_EQ(log.distinct_jobs(), 2000u);
  EXPECT_TRUE(log.repeated().empty());
  EXPECT_EQ(state_of(ids.front()), "completed");
  auto m = worker.metrics().queues["default"];
  EXPECT_EQ(m.completed, 2000u);
  EXPECT_FALSE(m.latency_ms.empty());
}

// WorkerOptions::pool: the worker's statements go through the caller's pool. It opens
// no pool of its own (no "pgstack worker" session), the caller's pool opens the
// connections, within its limit, and the sessions that keep state (fetch, LISTEN) go to
// the pool's primary DSN since no dsn is given.
TEST_F(WorkerTest, RunsOnTheCallersPoolWhenGivenOne) {
  pg::Pool pool({.primary = db_.dsn(), .max_size = 2, .application_name = "caller pool"});
  auto o = options();
  o.dsn.clear();
  o.pool = &pool;
  RunLog log;
  Worker worker(o);
  worker.handle("noop", [&](JobContext& job) { log.add(job.job()); });
  worker.start();
  enqueue(500);
  ASSERT_TRUE(eventually([&] { return all_completed(500); })) << "completed " << stats().completed;
  ASSERT_TRUE(idle_and_listening("default")) << "fetch and LISTEN sessions on the pool's primary DSN";
  auto sessions = [&](const char* application) {
    return conn_.query_value<std::int64_t>(
        "select count(*) from pg_stat_activity where datname = current_database() and application_name = $1",
        std::string(application));
  };
  const auto own = sessions("pgstack worker");
  const auto callers = sessions("caller pool");
  const auto stats = pool.stats();
  worker.stop();
  EXPECT_EQ(log.distinct_jobs(), 500u);
  EXPECT_EQ(own, 0) << "the worker opened a pool of its own";
  EXPECT_GE(callers, 1) << "the caller's pool holds the worker's connections";
  EXPECT_GE(stats.connections_opened, 1u);
  EXPECT_LE(stats.endpoints.at(0).idle + stats.endpoints.at(0).in_use, 2u) << "within the caller's pool size";
}

TEST_F(WorkerTest, EightWorkersOnOneQueueNeverRunTheSameAttemptTwice) {
  RunLog log;
  std::vector<std::unique_ptr<Worker>> workers;
  for (int i = 0; i < 8; ++i) {
    auto o = options("w" + std::to_string(i), 2);
    o.batch_size = 20;
    workers.push_back(std::make_unique<Worker>(o));
    workers.back()->handle("noop", [&](JobContext& job) { log.add(job.job()); });
    workers.back()->start();
  }
  // Enqueued in many small transactions while the workers claim, so ticks interleave.
  for (int i = 0; i < 100; ++i) enqueue(50);
  ASSERT_TRUE(eventually([&] { return all_completed(5000); })) << "completed " << stats().completed;
  for (auto& w : workers) w->stop();
  EXPECT_EQ(log.distinct_jobs(), 5000u);
  EXPECT_EQ(log.repeated(), std::vector<std::string>{});
  int busy = 0;
  for (auto& w : workers) busy += w->metrics().queues["default"].completed > 0;
  EXPECT_GE(busy, 2) << "the work was spread over the workers";
}

TEST_F(WorkerTest, FailingHandlerRetriesWithBackoffThenIsDiscardedWithItsErrors) {
  std::atomic<int> calls{0};
  Worker worker(options());
  worker.handle("flaky", [&](JobContext& job) {
    ++calls;
    throw std::runtime_error("smtp refused attempt " + std::to_string(job.job().attempt));
  }, {.max_attempts = 3, .backoff = [](int attempt) { return std::chrono::milliseconds(100 * attempt); }});
  worker.start();
  auto id = JobQueue::enqueue(conn_, "flaky").id;
  ASSERT_TRUE(eventually([&] { return state_of(id) == "discarded"; })) << state_of(id);
  worker.stop();
  EXPECT_EQ(calls.load(), 3);
  auto job = JobQueue::job(conn_, id);
  ASSERT_TRUE(job);
  ASSERT_EQ(job->errors.size(), 3u);
  EXPECT_EQ(job->errors[0]["error"], "smtp refused attempt 1");
  EXPECT_EQ(job->errors[2]["error"], "smtp refused attempt 3");
  // The second retry waited at least its backoff (200 ms) after the second failure.
  auto gap = conn_.query_value<double>(
      "select extract(epoch from (errors->2->>'at')::timestamptz - (errors->1->>'at')::timestamptz) from pgstack.job($1)", id);
  EXPECT_GE(gap, 0.2);
  EXPECT_EQ(stats().discarded, 1);
}

TEST_F(WorkerTest, HandlersCanSnoozeDiscardAndCancelTheirJob) {
  std::atomic<int> snoozed_runs{0};
  Worker worker(options());
  worker.handle("snoozer", [&](JobContext& job) {
    if (snoozed_runs++ == 0) job.snooze(200ms);
  });
  worker.handle("rejecter", [](JobContext& job) { job.discard("payload refers to a deleted account"); });
  worker.handle("quitter", [](JobContext& job) { job.cancel("order was refunded"); });
  worker.start();
  auto s = JobQueue::enqueue(conn_, "snoozer").id;
  auto d = JobQueue::enqueue(conn_, "rejecter").id;
  auto c = JobQueue::enqueue(conn_, "quitter").id;
  ASSERT_TRUE(eventually([&] { return state_of(s) == "completed" && state_of(d) == "discarded" && state_of(c) == "cancelled"; }))
      << state_of(s) << " " << state_of(d) << " " << state_of(c);
  worker.stop();
  EXPECT_EQ(snoozed_runs.load(), 2);
  EXPECT_EQ(JobQueue::job(conn_, d)->errors[0]["error"], "payload refers to a deleted account");
  EXPECT_EQ(JobQueue::job(conn_, d)->attempt, 1) << "a discard is final, not a retry";
  EXPECT_EQ(JobQueue::job(conn_, c)->errors[0]["error"], "order was refunded");
}

TEST_F(WorkerTest, CancellingARunningJobFiresItsCancelToken) {
  std::atomic<bool> started{false}, saw_cancel{false};
  Worker worker(options());
  worker.handle("long", [&](JobContext& job) {
    started = true;
    while (!job.cancelled()) std::this_thread::sleep_for(10ms);
    saw_cancel = true;
    throw std::runtime_error("stopped: cancelled");
  });
  worker.start();
  auto id = JobQueue::enqueue(conn_, "long").id;
  ASSERT_TRUE(eventually([&] { return started.load(); }));
  EXPECT_EQ(state_of(id), "running");
  EXPECT_FALSE(JobQueue::cancel(conn_, id));
  ASSERT_TRUE(eventually([&] { return state_of(id) == "cancelled"; })) << state_of(id);
  worker.stop();
  EXPECT_TRUE(saw_cancel.load());
  EXPECT_NE(JobQueue::job(conn_, id)->errors[0]["error"].get<std::string>().find("cancelled while running"),
            std::string::npos);
}

TEST_F(WorkerTest, AJobPastItsTimeoutIsCancelledAndRetried) {
  std::atomic<int> runs{0};
  Worker worker(options());
  worker.handle("slow", [&](JobContext& job) {
    if (runs++ > 0) return;  // the retry is quick
    while (!job.cancelled()) std::this_thread::sleep_for(5ms);
    throw std::runtime_error("gave up");
  }, {.timeout = 300ms, .backoff = [](int) { return 0ms; }});
  worker.start();
  auto id = JobQueue::enqueue(conn_, "slow").id;
  ASSERT_TRUE(eventually([&] { return state_of(id) == "completed"; })) << state_of(id);
  worker.stop();
  EXPECT_EQ(runs.load(), 2);
  auto errors = conn_.query_value<nlohmann::json>("select errors from pgstack.job_stream where id = $1 and attempt = 2", id);
  EXPECT_NE(errors[0]["error"].get<std::string>().find("timed out after 300 ms"), std::string::npos) << errors.dump();
}

TEST_F(WorkerTest, ANotificationWakesAnIdleWorkerLongBeforeItsPollInterval) {
  std::mutex m;
  std::vector<double> latencies;
  auto o = options();
  o.poll_interval = 30s;  // only NOTIFY can make this fast
  Worker worker(o);
  worker.handle("ping", [&](JobContext& job) {
    std::lock_guard lock(m);
    latencies.push_back(std::chrono::duration<double, std::milli>(std::chrono::system_clock::now() - job.job().available_at).count());
  });
  worker.start();
  ASSERT_TRUE(idle_and_listening("default")) << "the worker never went idle";
  for (int i = 0; i < 20; ++i) {
    JobQueue::enqueue(conn_, "ping");
    ASSERT_TRUE(eventually([&] { std::lock_guard lock(m); return latencies.size() == static_cast<std::size_t>(i + 1); }, 5s));
  }
  worker.stop();
  std::sort(latencies.begin(), latencies.end());
  auto p50 = latencies[latencies.size() / 2];
  std::cout << "enqueue-to-start latency over NOTIFY: p50 " << p50 << " ms, max " << latencies.back() << " ms\n";
  EXPECT_LT(p50, 500.0);
}

TEST_F(WorkerTest, StopFinishesRunningJobsAndHandsBackTheRest) {
  std::atomic<int> started{0}, finished{0};
  auto o = options("stopper", 2);
  o.batch_size = 20;
  Worker worker(o);
  worker.handle("work", [&](JobContext&) {
    ++started;
    std::this_thread::sleep_for(300ms);
    ++finished;
  });
  worker.start();
  auto ids = enqueue(20, "work");
  ASSERT_TRUE(eventually([&] { return started.load() >= 2; }));
  worker.stop(5s);
  EXPECT_EQ(started.load(), finished.load()) << "every handler that started was let finish";
  auto s = stats();
  EXPECT_EQ(s.running, 0);
  EXPECT_EQ(s.completed, finished.load());
  EXPECT_EQ(s.available, 20 - finished.load()) << "the rest went back to the queue";
  // They keep their attempt number: they never started.
  EXPECT_EQ(count("select count(*) from pgstack.job_latest((select array_agg(id) from pgstack.job_stream)) where attempt > 1"), 0);
  Worker second(options("second"));
  second.handle("work", [](JobContext&) {});
  second.start();
  ASSERT_TRUE(eventually([&] { return all_completed(20); }));
  second.stop();
}

TEST_F(WorkerTest, AWorkerKilledMidJobHasItsJobRescuedAndCompleted) {
  conn_.query("create table ran (job_id bigint, attempt int, worker text, event text, at timestamptz default clock_timestamp())");
  JobQueue::register_kind(conn_, "record");
  auto ids = enqueue(3, "record");
  auto pid = sys::spawn({PGSTACK_TEST_WORKER, "--dsn", db_.dsn(), "--name", "doomed", "--sleep-ms", "5000", "--lease-ms", "1500"},
                        {}, "/dev/null");
  ASSERT_TRUE(eventually([&] { return count("select count(*) from ran where event = 'start'") == 3; }))
      << "the doomed worker never started its jobs";
  ::kill(pid, SIGKILL);
  ASSERT_TRUE(eventually([&] { return !sys::process_alive(pid); }));
  EXPECT_EQ(count("select count(*) from ran where event = 'end'"), 0);
  for (auto id : ids) EXPECT_EQ(state_of(id), "running") << "until its lease runs out";

  Worker rescuer([&] { auto o = options("rescuer"); return o; }());
  rescuer.handle("record", [&](JobContext& job) {
    pg::Connection c(db_.dsn());
    c.query("insert into ran (job_id, attempt, worker, event) values ($1, $2, 'rescuer', 'end')", job.job().id, job.job().attempt);
  });
  rescuer.start();
  ASSERT_TRUE(eventually([&] { return all_completed(3); })) << "completed " << stats().completed;
  rescuer.stop();
  // Each job: started once by the dead worker (attempt 1), finished once by the rescuer (attempt 2).
  EXPECT_EQ(count("select count(*) from ran where worker = 'rescuer' and attempt = 2"), 3);
  EXPECT_EQ(count("select count(distinct job_id) from ran where event = 'end'"), 3);
  EXPECT_EQ(stats().rescued, 3);
  auto errors = conn_.query_value<nlohmann::json>("select errors from pgstack.job($1)", ids[0]);
  EXPECT_NE(errors[0]["error"].get<std::string>().find("worker doomed stopped renewing the lease"), std::string::npos);
}

TEST_F(WorkerTest, WorkersReconnectAfterAServerRestartWithoutLosingOrRepeatingAnAttempt) {
  RunLog log;
  std::atomic<int> troubles{0};
  auto o = options("survivor", 2);
  o.batch_size = 20;
  o.log = [&](const std::string&) { ++troubles; };
  Worker worker(o);
  worker.handle("noop", [&](JobContext& job) {
    log.add(job.job());
    std::this_thread::sleep_for(2ms);
  });
  JobQueue::register_kind(conn_, "noop");
  auto ids = enqueue(3000);
  worker.start();
  ASSERT_TRUE(eventually([&] { return log.distinct_jobs() >= 500; }));
  jobs_cluster().restart();
  auto done_at_restart = log.distinct_jobs();
  EXPECT_LT(done_at_restart, 3000u) << "the restart came mid-run";
  pg::Connection after(db_.dsn());
  conn_ = std::move(after);
  ASSERT_TRUE(eventually([&] {
    try {
      return all_completed(3000);
    } catch (const pg::ConnectionError&) {
      conn_ = pg::Connection(db_.dsn());
      return false;
    }
  }, 60s)) << "completed " << stats().completed << " running " << stats().running;
  worker.stop();
  EXPECT_GT(troubles.load(), 0) << "the worker noticed the restart";
  EXPECT_GT(worker.metrics().reconnects, 0u) << "its LISTEN connection came back";
  EXPECT_EQ(log.distinct_jobs(), 3000u) << "no job lost";
  EXPECT_EQ(log.repeated(), std::vector<std::string>{}) << "no attempt ran twice";
  EXPECT_EQ(count("select count(*) from pgstack.job_history"), 0);
}

// A commit whose reply never arrives. From hold_commits() on, every commit of every
// other session is written to WAL (so it survives a crash) and then waits for a
// synchronous standby that does not exist; the server is then stopped immediately, so
// the client never learns that its statement committed. This session commits normally.
class LostReplyTest : public WorkerTest {
 protected:
  void hold_commits() {
    conn_.query("alter system set synchronous_standby_names = 'no_such_standby'");
    conn_.query("alter system set synchronous_commit = 'on'");
    conn_.query("select pg_reload_conf()");
    conn_.query("set synchronous_commit = local");
    // pg_reload_conf() only signals the postmaster, which then re-reads the file and
    // signals every backend. Until it has, a worker's commit would not wait and the
    // test would crash the server after the statement it means to catch (CI saw a
    // claim return normally and a later, empty claim be the one caught). The postmaster
    // signals all backends at once, so once this session sees the setting, every
    // session applies it before its next statement.
    ASSERT_TRUE(eventually([&] {
      return conn_.query_value<std::string>("show synchronous_standby_names") == "no_such_standby";
    }, 10s)) << "the server never applied synchronous_standby_names";
  }
  // Waits until a statement matching `like` has committed and waits for the standby.
  bool committed_and_waiting(const std::string& like) {
    return eventually([&] {
      return count("select count(*) from pg_stat_activity where wait_event = 'SyncRep' and query like '" + like + "'") > 0;
    }, 10s);
  }
  void crash_and_restart() {
    conn_.query("alter system reset synchronous_standby_names");
    conn_.query("alter system reset synchronous_commit");
    jobs_cluster().stop_immediately();
    jobs_cluster().start();
    conn_ = pg::Connection(db_.dsn());
  }
  // Options whose lease is far longer than the test waits: a stranded batch, or one
  // rescued after its lease, would show as jobs not completed in time.
  WorkerOptions long_lease(std::string name) {
    auto o = options(std::move(name), 4);
    o.lease = 60s;
    o.heartbeat_interval = 5s;
    return o;
  }
};

TEST_F(LostReplyTest, ACompletionThatCommittedIsCountedCompletedNotLost) {
  RunLog log;
  std::atomic<bool> go{false};
  Worker worker(long_lease("completer"));
  worker.handle("noop", [&](JobContext& job) {
    log.add(job.job());
    while (!go) std::this_thread::sleep_for(5ms);
  });
  JobQueue::register_kind(conn_, "noop");
  enqueue(20);
  worker.start();
  ASSERT_TRUE(eventually([&] { return log.distinct_jobs() == 4; })) << "four handlers started";
  ASSERT_NO_FATAL_FAILURE(hold_commits());
  go = true;
  ASSERT_TRUE(committed_and_waiting("%job_batch_complete%")) << "the completion never reached its commit";
  crash_and_restart();
  EXPECT_EQ(count("select count(*) from pgstack.job_batches"), 0) << "the completion had committed";
  ASSERT_TRUE(eventually([&] {
    try {
      return worker.metrics().queues["default"].completed == 20 && count("select count(*) from pgstack.job_batches") == 0;
    } catch (const pg::ConnectionError&) {
      conn_ = pg::Connection(db_.dsn());
      return false;
    }
  }, 20s));
  // stop() drains the completer first, its retry included: the completion whose reply was
  // lost is sent again, refused as no longer held, and looked up (job_batch_status).
  worker.stop();
  auto m = worker.metrics().queues["default"];
  EXPECT_EQ(m.batches_lost, 0u) << "a completion that committed is not a lost batch";
  EXPECT_EQ(m.completed, 20u);
  EXPECT_EQ(stats().completed, 20) << "counted once, by the completion that committed";
  EXPECT_EQ(stats().rescued, 0);
  EXPECT_EQ(log.distinct_jobs(), 20u);
  EXPECT_EQ(log.repeated(), std::vector<std::string>{});
}

TEST_F(LostReplyTest, AClaimThatCommittedIsResumedNotStrandedForALease) {
  RunLog log;
  JobQueue::register_kind(conn_, "noop");
  JobQueue::pause(conn_, "default");
  auto ids = enqueue(20);
  Worker worker(long_lease("claimer"));
  worker.handle("noop", [&](JobContext& job) { log.add(job.job()); });
  worker.start();
  ASSERT_TRUE(idle_and_listening("default")) << "the worker never went idle on the paused queue";
  ASSERT_NO_FATAL_FAILURE(hold_commits());
  JobQueue::resume(conn_, "default");  // wakes the worker: its claim commits, and waits
  ASSERT_TRUE(committed_and_waiting("%job_claim%")) << "the claim never reached its commit";
  crash_and_restart();
  ASSERT_EQ(count("select count(*) from pgstack.job_batches where worker = 'claimer'"), 1)
      << "the claim had committed: without its reply the batch would wait out its 60 s lease";
  auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(eventually([&] {
    try {
      return all_completed(20);
    } catch (const pg::ConnectionError&) {
      conn_ = pg::Connection(db_.dsn());
      return false;
    }
  }, 20s)) << "completed " << stats().completed << ", running " << stats().running;
  EXPECT_LT(std::chrono::steady_clock::now() - start, 20s);
  worker.stop();
  EXPECT_EQ(log.distinct_jobs(), 20u);
  EXPECT_EQ(log.repeated(), std::vector<std::string>{}) << "each job ran once, at its first attempt";
  EXPECT_EQ(stats().rescued, 0);
  EXPECT_EQ(worker.metrics().queues["default"].batches_lost, 0u);
  // Read from what the handlers saw: a completed job leaves pgstack.job() once
  // housekeeping has compacted the stream, which it may have done by now.
  for (auto& [run, times] : log.runs) EXPECT_EQ(run.second, 1) << "job " << run.first << " ran at a later attempt";
  for (auto id : ids) EXPECT_TRUE(log.ids.count(id)) << "job " << id << " never ran";
}

TEST_F(WorkerTest, APeriodicJobRunsOncePerTickAmongThreeProcesses) {
  JobQueue::register_kind(conn_, "tick");
  std::vector<pid_t> pids;
  for (int i = 0; i < 3; ++i)
    pids.push_back(sys::spawn({PGSTACK_TEST_WORKER, "--dsn", db_.dsn(), "--name", "p" + std::to_string(i), "--periodic",
                               "every-second", "* * * * * *", "tick"},
                              {}, "/dev/null"));
  auto ticks = [&] {
    return count("select count(distinct args->>'periodic_tick') from pgstack.job_stream where 'periodic:every-second' = any(tags)");
  };
  // Four ticks, each a second: the three processes compete for each of them.
  EXPECT_TRUE(eventually([&] { return ticks() >= 4; }, 20s)) << "ticks enqueued: " << ticks();
  for (auto pid : pids) ::kill(pid, SIGTERM);
  for (auto pid : pids) ASSERT_TRUE(eventually([&] { return !sys::process_alive(pid); }));
  auto total = count("select count(*) from pgstack.job_stream where 'periodic:every-second' = any(tags)");
  EXPECT_GE(total, 4);
  EXPECT_EQ(ticks(), total) << "no tick was enqueued twice";
}

TEST_F(WorkerTest, BadConfigurationIsRefusedBeforeAnythingRuns) {
  Worker worker(options());
  EXPECT_THROW(worker.every("nightly", "0 0 3 * *  * *", "noop"), pg::UsageError);
  try {
    worker.every("nightly", "0 61 * * * *", "noop");
    FAIL() << "invalid cron accepted";
  } catch (const pg::UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("minute field '61' is out of range"), std::string::npos) << e.what();
  }
  worker.every("report", "0 0 3 * * *", "never_registered");
  try {
    worker.start();
    FAIL() << "started with a periodic job of an unknown kind";
  } catch (const pg::UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("kind 'never_registered' is not registered"), std::string::npos) << e.what();
  }
  EXPECT_EQ(count("select count(*) from pgstack.job_periodic"), 0);
  auto o = options();
  o.batch_size = 0;
  EXPECT_THROW(Worker(o).start(), pg::UsageError);
  o = options();
  o.lease = 600ms;
  EXPECT_THROW(Worker(o).start(), pg::UsageError);
  o = options();
  o.dsn.clear();  // and no pool
  try {
    Worker(o).start();
    FAIL() << "started with neither a pool nor a dsn";
  } catch (const pg::UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("no pool or dsn given"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace pgstack::jobs
