#include "pgstack/pg/pipeline.h"

#include <libpq-fe.h>
#include <poll.h>

#include <cerrno>
#include <optional>

namespace pgstack::pg {

std::size_t Pipeline::add_params(std::string_view sql, Params params) {
  queued_.push_back(Queued{std::string(sql), std::move(params)});
  return queued_.size() - 1;
}

namespace {

// Leaves pipeline mode and blocking I/O however run() ends.
struct PipelineModeGuard {
  PGconn* c;
  ~PipelineModeGuard() {
    if (PQpipelineStatus(c) != PQ_PIPELINE_OFF) PQexitPipelineMode(c);
    PQsetnonblocking(c, 0);
  }
};

}  // namespace

std::vector<Result> Pipeline::run() {
  std::vector<Queued> batch = std::move(queued_);
  queued_.clear();
  std::vector<Result> results;
  if (batch.empty()) return results;
  if (!conn_->is_open()) conn_->throw_last_error(nullptr);
  PGconn* c = conn_->native();
  if (PQpipelineStatus(c) != PQ_PIPELINE_OFF) throw UsageError("the connection is already in pipeline mode");
  if (!PQenterPipelineMode(c)) conn_->throw_last_error(nullptr);
  // Non-blocking, so we read replies while still sending: with both sides' socket
  // buffers full, a blocking writer would wait forever for a reader that is itself.
  PQsetnonblocking(c, 1);
  PipelineModeGuard guard{c};

  results.resize(batch.size());
  std::size_t sent = 0;
  std::size_t received = 0;
  bool synced = false;
  bool sync_seen = false;
  bool flush_pending = false;
  std::optional<Result> first_error;
  bool got_result = false;  // a NULL with no result before it: nothing more has arrived yet

  while (!sync_seen) {
    while (!flush_pending && sent < batch.size()) {
      const Queued& q = batch[sent];
      if (!PQsendQueryParams(c, q.sql.c_str(), q.params.size(), q.params.types().data(), q.params.values(),
                             q.params.lengths(), q.params.formats(), /*resultFormat=*/1))
        conn_->throw_last_error(nullptr);
      ++sent;
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

    // Each statement yields its result then a NULL; the sync yields PGRES_PIPELINE_SYNC.
    while (!sync_seen && !PQisBusy(c)) {
      PGresult* r = PQgetResult(c);
      if (!r) {
        if (!got_result) break;
        got_result = false;
        ++received;
        continue;
      }
      got_result = PQresultStatus(r) != PGRES_PIPELINE_SYNC;
      switch (PQresultStatus(r)) {
        case PGRES_PIPELINE_SYNC:
          PQclear(r);
          sync_seen = true;
          break;
        case PGRES_TUPLES_OK:
        case PGRES_COMMAND_OK:
        case PGRES_EMPTY_QUERY:
          results[received] = Result(r);
          break;
        case PGRES_PIPELINE_ABORTED:
          PQclear(r);
          break;
        default:
          if (!first_error) first_error = Result(r);
          else PQclear(r);
          break;
      }
      if (PQstatus(c) == CONNECTION_BAD) conn_->throw_last_error(nullptr);
    }
  }
  if (first_error) {
    PQexitPipelineMode(c);
    conn_->throw_last_error(first_error->native());
  }
  return results;
}

}  // namespace pgstack::pg
