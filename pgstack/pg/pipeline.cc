#include "pgstack/pg/pipeline.h"

#include <libpq-fe.h>
#include <poll.h>

#include <cerrno>
#include <optional>
#include <unordered_map>

#include <fmt/format.h>

namespace pgstack::pg {

std::size_t Pipeline::add_params(std::string_view sql, Params params) {
  queued_.push_back(Queued{std::string(sql), std::move(params)});
  return queued_.size() - 1;
}

namespace {

constexpr std::size_t kQueriesPerFlush = 256;

// Leaves pipeline mode and blocking I/O however a batch ends.
struct PipelineModeGuard {
  PGconn* c;
  ~PipelineModeGuard() {
    if (PQpipelineStatus(c) != PQ_PIPELINE_OFF) PQexitPipelineMode(c);
    PQsetnonblocking(c, 0);
  }
};

// A reply the batch waits for, in the order sent: a statement's result, or the result
// of preparing a statement the cache did not hold yet.
struct Slot {
  bool is_prepare = false;
  std::size_t index = 0;  // statement: its place in the batch; prepare: its place in Attempt::prepared
};

}  // namespace

struct Pipeline::Attempt {
  struct Prepared {
    std::string key;
    std::string name;
    bool ok = false;  // the server answered the in-band prepare with success
  };
  std::vector<Result> results;
  std::optional<Result> first_error;
  bool cache_miss = false;        // first_error: a cached statement has vanished from the server
  // No statement of the batch had completed before the first error. Only then is a
  // resend safe: a batch may hold its own COMMIT, and what ran before it stays.
  bool nothing_ran = true;
  std::vector<Prepared> prepared;  // statements this batch prepared in-band
  std::vector<std::size_t> sent_cached;  // batch positions sent by a name the cache held
};

Pipeline::Attempt Pipeline::send_batch(const std::vector<Queued>& batch, bool use_cache) {
  PGconn* c = conn_->native();
  if (!PQenterPipelineMode(c)) conn_->throw_last_error(nullptr);
  // Non-blocking, so we read replies while still sending: with both sides' socket
  // buffers full, a blocking writer would wait forever for a reader that is itself.
  PQsetnonblocking(c, 1);
  PipelineModeGuard guard{c};

  Attempt attempt;
  attempt.results.resize(batch.size());
  std::vector<Slot> slots;
  slots.reserve(batch.size());
  std::unordered_map<std::string, std::size_t> prepared_here;  // cache key -> Attempt::prepared

  // Queues one statement: by name when its statement is prepared (or being prepared in
  // this batch), else preceded by its in-band prepare; with the cache off, unnamed.
  auto send = [&](std::size_t i) {
    const Queued& q = batch[i];
    if (!use_cache) {
      slots.push_back(Slot{.index = i});
      return PQsendQueryParams(c, q.sql.c_str(), q.params.size(), q.params.types().data(), q.params.values(),
                               q.params.lengths(), q.params.formats(), /*resultFormat=*/1) != 0;
    }
    std::string key = Connection::cache_key(q.sql, q.params);
    const std::string* name = nullptr;
    if (auto it = prepared_here.find(key); it != prepared_here.end()) {
      name = &attempt.prepared[it->second].name;
    } else if ((name = conn_->find_cached_statement(key))) {
      attempt.sent_cached.push_back(i);
    } else {
      std::string fresh = fmt::format("pgstack_{}", conn_->next_statement_++);
      if (!PQsendPrepare(c, fresh.c_str(), q.sql.c_str(), q.params.size(), q.params.types().data())) return false;
      slots.push_back(Slot{.is_prepare = true, .index = attempt.prepared.size()});
      prepared_here.emplace(key, attempt.prepared.size());
      attempt.prepared.push_back({std::move(key), std::move(fresh)});
      name = &attempt.prepared.back().name;
    }
    slots.push_back(Slot{.index = i});
    return PQsendQueryPrepared(c, name->c_str(), q.params.size(), q.params.values(), q.params.lengths(),
                               q.params.formats(), /*resultFormat=*/1) != 0;
  };

  std::size_t sent = 0;
  std::size_t received = 0;  // slots whose reply has been read in full
  bool synced = false;
  bool sync_seen = false;
  bool flush_pending = false;
  bool got_result = false;  // a NULL with no result before it: nothing more has arrived yet

  while (!sync_seen) {
    // Queue a stretch of queries, then flush once: a flush per query would cost a
    // send() system call each, as much as the query itself. libpq also flushes on its
    // own when its buffer passes 64 kB, so the server starts on a long batch early.
    while (!flush_pending && sent < batch.size()) {
      if (!send(sent)) conn_->throw_last_error(nullptr);
      ++sent;
      if (sent % kQueriesPerFlush != 0 || sent == batch.size()) continue;  // the sync flushes the last stretch
      const int f = PQflush(c);
      if (f < 0) conn_->throw_last_error(nullptr);
      flush_pending = f == 1;
    }
    if (!flush_pending && sent == batch.size() && !synced) {
      if (!PQpipelineSync(c)) conn_->throw_last_error(nullptr);
      synced = true;
      const int f = PQflush(c);
      if (f < 0) conn_->throw_last_error(nullptr);
      flush_pending = f == 1;
    }

    pollfd p{PQsocket(c), static_cast<short>(POLLIN | (flush_pending ? POLLOUT : 0)), 0};
    if (::poll(&p, 1, -1) < 0 && errno != EINTR) conn_->throw_last_error(nullptr);
    if (p.revents & (POLLIN | POLLERR | POLLHUP)) {
      if (!PQconsumeInput(c)) conn_->throw_last_error(nullptr);
    }
    if (flush_pending && (p.revents & (POLLOUT | POLLIN))) {
      const int f = PQflush(c);
      if (f < 0) conn_->throw_last_error(nullptr);
      flush_pending = f == 1;
    }

    // Each slot yields its result then a NULL; the sync yields PGRES_PIPELINE_SYNC.
    while (!sync_seen && !PQisBusy(c)) {
      PGresult* r = PQgetResult(c);
      if (!r) {
        if (!got_result) break;
        got_result = false;
        ++received;
        continue;
      }
      got_result = PQresultStatus(r) != PGRES_PIPELINE_SYNC;
      const Slot slot = got_result ? slots.at(received) : Slot{};
      switch (PQresultStatus(r)) {
        case PGRES_PIPELINE_SYNC:
          PQclear(r);
          sync_seen = true;
          break;
        case PGRES_TUPLES_OK:
        case PGRES_COMMAND_OK:
        case PGRES_EMPTY_QUERY:
          if (slot.is_prepare) {
            attempt.prepared[slot.index].ok = true;
            PQclear(r);
          } else {
            attempt.results[slot.index] = Result(r);
            if (!attempt.first_error) attempt.nothing_ran = false;
          }
          break;
        case PGRES_PIPELINE_ABORTED:
          PQclear(r);
          break;
        default:
          if (!attempt.first_error) {
            attempt.first_error = Result(r);
            attempt.cache_miss = !slot.is_prepare && use_cache && Connection::is_stale_statement_error(r);
          } else {
            PQclear(r);
          }
          break;
      }
      if (PQstatus(c) == CONNECTION_BAD) conn_->throw_last_error(nullptr);
    }
  }
  // Prepared statements outlive the batch's transaction, even when it was rolled back.
  for (auto& p : attempt.prepared)
    if (p.ok) conn_->remember_statement(std::move(p.key), std::move(p.name));
  return attempt;
}

std::vector<Result> Pipeline::run() {
  std::vector<Queued> batch = std::move(queued_);
  queued_.clear();
  if (batch.empty()) return {};
  if (!conn_->is_open()) conn_->throw_last_error(nullptr);
  PGconn* c = conn_->native();
  if (PQpipelineStatus(c) != PQ_PIPELINE_OFF) throw UsageError("the connection is already in pipeline mode");
  const bool use_cache = conn_->cache_enabled_ && conn_->options_.statement_cache_capacity > 0;
  // Statements the cache evicted are deallocated first, as execute() does before a statement.
  if (use_cache) conn_->flush_pending_deallocations();
  const bool autocommit = PQtransactionStatus(c) == PQTRANS_IDLE;
  for (int attempt_no = 0;; ++attempt_no) {
    Attempt attempt = send_batch(batch, use_cache);
    if (!attempt.first_error) return std::move(attempt.results);
    // A cached statement vanished (DISCARD ALL, DEALLOCATE): forget the ones this batch
    // used, so the next call prepares them afresh, and send it again now when that is
    // safe: the batch was its own implicit transaction (as in execute()) and nothing in
    // it had run before the error (it might have committed on its own).
    if (attempt.cache_miss) {
      for (std::size_t i : attempt.sent_cached) conn_->forget_statement(batch[i].sql, batch[i].params);
      if (autocommit && attempt.nothing_ran && attempt_no == 0 && conn_->is_open()) continue;
    }
    conn_->throw_last_error(attempt.first_error->native());
  }
}

}  // namespace pgstack::pg
