// The Worker: its public face (handle, every, start, stop, metrics) and what its threads
// share. The threads' loops live in worker_fetch.cc, worker_execute.cc, worker_complete.cc
// and worker_housekeeping.cc; internal/worker_state.h describes them and their State.
#include "pgstack/jobs/worker.h"

#include <unistd.h>

#include <iostream>
#include <random>
#include <set>

#include <fmt/format.h>

#include "pgstack/jobs/internal/worker_state.h"
#include "pgstack/jobs/job_queue.h"
#include "pgstack/pg/errors.h"
#include "pgstack/pg/transaction.h"

namespace pgstack::jobs {

using pg::UsageError;
using internal::Clock;
using namespace std::chrono_literals;

namespace {

std::string default_worker_name() {
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  std::random_device rd;
  return fmt::format("{}:{}:{:04x}", host, getpid(), rd() & 0xffff);
}

}  // namespace

void Worker::State::log(const std::string& line) {
  if (options.log)
    options.log(line);
  else
    std::cerr << fmt::format("pgstack worker {}: {}\n", options.name, line);
}

void Worker::State::wake(QueueRuntime& q) {
  {
    std::lock_guard lock(q.mutex);
    q.woken = true;
  }
  q.fetch_cv.notify_one();
}

void Worker::State::wake_all() {
  for (auto& [name, q] : queues) wake(*q);
}

std::vector<std::shared_ptr<Worker::State::Batch>> Worker::State::held_batches() {
  std::lock_guard lock(held_mutex);
  std::vector<std::shared_ptr<Batch>> out;
  for (auto& [id, b] : held) out.push_back(b);
  return out;
}

void Worker::State::forget(const std::shared_ptr<Batch>& b) {
  std::lock_guard lock(held_mutex);
  held.erase(b->id);
}

Worker::Worker(WorkerOptions options) : state_(std::make_shared<State>()) {
  if (options.name.empty()) options.name = default_worker_name();
  state_->options = std::move(options);
}

Worker::~Worker() {
  if (state_ && state_->started && !state_->stopping) {
    try {
      stop(std::chrono::milliseconds(0));
    } catch (...) {
    }
  }
}

const std::string& Worker::name() const noexcept { return state_->options.name; }

void Worker::handle(std::string kind, Handler handler, HandlerOptions options) {
  if (state_->started) throw UsageError("Worker::handle: register handlers before start()");
  if (!handler) throw UsageError(fmt::format("Worker::handle: the handler for kind '{}' is empty", kind));
  state_->handlers[std::move(kind)] = State::Registered{std::move(handler), std::move(options)};
}

void Worker::every(std::string name, std::string cron, std::string kind, nlohmann::json args,
                   std::optional<std::string> queue) {
  if (state_->started) throw UsageError("Worker::every: declare periodic jobs before start()");
  auto schedule = CronSchedule::parse(cron);  // throws on a bad expression, before anything runs
  state_->periodic.push_back(internal::Periodic{std::move(name), std::move(schedule), std::move(kind), std::move(args),
                                      std::move(queue), {}});
}

void Worker::start() {
  auto& s = *state_;
  if (s.started) throw UsageError("Worker::start: already started");
  auto& o = s.options;
  if (o.dsn.empty() && !o.pool)
    throw UsageError("Worker: no pool or dsn given; pass WorkerOptions::pool or WorkerOptions::dsn (e.g. $DATABASE_URL)");
  if (o.dsn.empty()) o.dsn = o.pool->options().primary;
  if (o.queues.empty()) throw UsageError("Worker: no queues to work; give WorkerOptions::queues");
  if (o.batch_size < 1 || o.batch_size > 10000)
    throw UsageError(fmt::format("Worker: batch_size {} is out of range (1-10000)", o.batch_size));
  if (o.lease < std::chrono::seconds(1) || o.heartbeat_interval * 2 > o.lease)
    throw UsageError(fmt::format("Worker: the lease ({} ms) must be at least 1 s and twice the heartbeat interval ({} ms)",
                                 o.lease.count(), o.heartbeat_interval.count()));
  std::set<std::string> seen;
  for (const auto& q : o.queues) {
    if (q.concurrency < 1 || q.concurrency > 1000)
      throw UsageError(fmt::format("Worker: concurrency {} of queue '{}' is out of range (1-1000)", q.concurrency, q.name));
    if (!seen.insert(q.name).second) throw UsageError(fmt::format("Worker: queue '{}' is listed twice", q.name));
  }

  if (o.pool) {
    s.pool = o.pool;
  } else {
    s.own_pool = std::make_unique<pg::Pool>(pg::PoolOptions{.primary = o.dsn, .max_size = 4,
                                                            .application_name = "pgstack worker"});
    s.pool = s.own_pool.get();
  }
  {
    // Queues and kinds exist before any job is claimed; one transaction, so a bad kind
    // name registers nothing.
    pg::Transaction tx(s.pool->acquire());
    for (const auto& q : o.queues) JobQueue::create_queue(tx, q.name);
    for (const auto& [kind, reg] : s.handlers) {
      if (reg.options.queue) JobQueue::create_queue(tx, *reg.options.queue);
      JobQueue::register_kind(tx, kind, KindOptions{reg.options.queue, reg.options.max_attempts, reg.options.priority});
    }
    for (const auto& p : s.periodic) {
      if (p.queue) JobQueue::create_queue(tx, *p.queue);
      if (!tx.query_value<bool>("select exists (select 1 from pgstack.job_kinds where kind = $1)", p.kind))
        throw UsageError(fmt::format("Worker::every('{}'): kind '{}' is not registered; handle() it here or register "
                                     "it with pgstack.job_kind_register", p.name, p.kind));
    }
    tx.commit();
  }
  auto now = std::chrono::system_clock::now();
  for (auto& p : s.periodic) p.next = p.schedule.next_after(now);

  s.started = true;
  auto self = state_;  // threads share ownership: see the file comment
  for (const auto& qo : o.queues) {
    auto q = std::make_unique<internal::QueueRuntime>();
    q->options = qo;
    s.queues[qo.name] = std::move(q);
  }
  for (auto& [name, q] : s.queues) {
    internal::QueueRuntime* qr = q.get();
    for (int i = 0; i < qr->options.concurrency; ++i) qr->threads.emplace_back([self, qr] { self->execute_loop(*qr); });
    qr->fetcher = std::thread([self, qr] { self->fetch_loop(*qr); });
  }
  s.service_threads.emplace_back([self] { self->complete_loop(); });
  s.service_threads.emplace_back([self] { self->housekeeping_loop(); });
  s.service_threads.emplace_back([self] { self->listen_loop(); });
}

void Worker::stop(std::chrono::milliseconds deadline) {
  auto& s = *state_;
  if (!s.started || s.stopping.exchange(true)) return;
  // 1. No more claims. A claim in flight finishes and registers its batch, so the fetch
  //    threads are joined before anything is handed back. Executors start no new job
  //    from now on (run_one checks `stopping`); queued ones stay unstarted.
  for (auto& [name, q] : s.queues) q->fetch_cv.notify_all();
  s.house_cv.notify_all();
  for (auto& [name, q] : s.queues)
    if (q->fetcher.joinable()) q->fetcher.join();
  for (auto& [name, q] : s.queues) {
    std::lock_guard lock(q->mutex);
    q->outstanding -= q->ready.size();
    q->ready.clear();
  }
  // 2. Running handlers get until the deadline, then their cancel tokens fire and they
  //    get one more second.
  auto running = [&] { return s.running_handlers.load() > 0; };
  auto until = Clock::now() + deadline;
  while (running() && Clock::now() < until) std::this_thread::sleep_for(10ms);
  if (running()) {
    for (auto& b : s.held_batches()) {
      std::lock_guard lock(b->mutex);
      for (auto& t : b->tokens) t.request_stop();
    }
    auto grace = Clock::now() + 1s;
    while (running() && Clock::now() < grace) std::this_thread::sleep_for(10ms);
  }
  // 3. Completions queued so far go first, then everything still held is handed back.
  {
    std::lock_guard lock(s.complete_mutex);
    s.completer_done = true;
  }
  s.complete_cv.notify_all();
  for (auto& t : s.service_threads)
    if (t.joinable()) t.join();
  s.release_all();
  // 4. Executors. One stuck in a handler that ignores its token is left behind
  //    (detached); it holds the state alive and its result is discarded.
  s.stop_executors = true;
  for (auto& [name, q] : s.queues) q->ready_cv.notify_all();
  const bool stuck = running();
  for (auto& [name, q] : s.queues)
    for (auto& t : q->threads) {
      if (!t.joinable()) continue;
      if (stuck)
        t.detach();
      else
        t.join();
    }
}

WorkerMetrics Worker::metrics() const {
  std::lock_guard lock(state_->metrics_mutex);
  return state_->metrics;
}

}  // namespace pgstack::jobs
