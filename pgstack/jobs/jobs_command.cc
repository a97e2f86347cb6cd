// pgstack jobs stats|list|show|retry|cancel|pause|resume [--db URL] [--json]: the job
// queue from the command line, through its SQL API (docs/jobs.md).
#include <iostream>

#include <CLI/CLI.hpp>
#include <fmt/chrono.h>
#include <fmt/format.h>

#include "pgstack/capability/capability.h"
#include "pgstack/cli/cli_context.h"
#include "pgstack/cli/integer_options.h"
#include "pgstack/jobs/job_queue.h"

namespace pgstack::jobs {

capability::Capability capability();  // capability.cc

namespace {

using namespace pgstack::cli;

using jobs::JobQueue;

struct JobsArgs {
  std::optional<std::string> db;
  bool json = false;
  std::optional<std::string> queue;
  std::optional<std::string> state;
  int limit = 50;
  std::int64_t id = 0;
  std::string queue_name;
};

// Connects and checks the queue is installed, so a bare database gets a hint instead
// of "function pgstack.job_queue_stats() does not exist".
pg::Connection open_queue(const JobsArgs& args) { return connect_installed(args.db, capability()); }

nlohmann::json time_json(const std::optional<jobs::Timestamp>& t) {
  return t ? nlohmann::json(utc_text(t)) : nlohmann::json(nullptr);
}

// In tables: "-" for no time.
std::string utc_or_dash(const std::optional<jobs::Timestamp>& t) { return t ? utc_text(t) : "-"; }

nlohmann::json job_json(const jobs::JobInfo& j) {
  return {{"id", j.id},
          {"state", jobs::to_string(j.state)},
          {"queue", j.queue},
          {"kind", j.kind},
          {"args", j.args},
          {"priority", j.priority},
          {"attempt", j.attempt},
          {"max_attempts", j.max_attempts},
          {"enqueued_at", utc_text(j.enqueued_at)},
          {"run_at", time_json(j.run_at)},
          {"finished_at", time_json(j.finished_at)},
          {"unique_key", j.unique_key ? nlohmann::json(*j.unique_key) : nlohmann::json(nullptr)},
          {"tags", j.tags},
          {"errors", j.errors},
          {"cancel_requested", j.cancel_requested}};
}

void run_stats(const JobsArgs& args) {
  set_command("pgstack jobs stats");
  auto conn = open_queue(args);
  auto stats = JobQueue::stats(conn);
  auto now = std::chrono::system_clock::now();
  auto oldest_age = [&](const jobs::QueueStats& s) -> std::optional<double> {
    if (!s.oldest_available_at) return std::nullopt;
    return std::chrono::duration<double>(now - *s.oldest_available_at).count();
  };
  if (args.json) {
    nlohmann::json queues = nlohmann::json::array();
    for (const auto& s : stats) {
      auto age = oldest_age(s);
      queues.push_back({{"queue", s.queue}, {"paused", s.paused},
                        {"concurrency_limit", s.concurrency_limit ? nlohmann::json(*s.concurrency_limit) : nlohmann::json(nullptr)},
                        {"scheduled", s.scheduled}, {"retryable", s.retryable}, {"available", s.available},
                        {"running", s.running}, {"completed", s.completed}, {"failed", s.failed},
                        {"discarded", s.discarded}, {"cancelled", s.cancelled}, {"rescued", s.rescued},
                        {"oldest_available_seconds", age ? nlohmann::json(*age) : nlohmann::json(nullptr)}});
    }
    print_json({{"queues", queues}});
    return;
  }
  std::cout << fmt::format("{:<20} {:>9} {:>9} {:>9} {:>9} {:>11} {:>8} {:>9} {:>9}  {}\n", "queue", "scheduled",
                           "retryable", "available", "running", "completed", "failed", "discarded", "cancelled",
                           "oldest available");
  for (const auto& s : stats) {
    auto age = oldest_age(s);
    std::cout << fmt::format("{:<20} {:>9} {:>9} {:>9} {:>9} {:>11} {:>8} {:>9} {:>9}  {}{}\n",
                             s.queue + (s.paused ? " (paused)" : ""), s.scheduled, s.retryable, s.available, s.running,
                             s.completed, s.failed, s.discarded, s.cancelled,
                             age ? fmt::format("{:.1f} s ago", *age) : "-",
                             s.concurrency_limit ? fmt::format("  (limit {})", *s.concurrency_limit) : "");
  }
}

void run_list(const JobsArgs& args) {
  set_command("pgstack jobs list");
  std::optional<jobs::JobState> state;
  if (args.state) {
    try {
      state = jobs::parse_job_state(*args.state);
    } catch (const pg::UsageError& e) {
      throw BadUsage(e.what());
    }
    if (*state == jobs::JobState::completed)
      throw BadUsage("completed jobs are not listed: nothing is kept per completed job; see `pgstack jobs stats` for "
                     "their count, or `pgstack jobs show ID` for one job");
  }
  auto conn = open_queue(args);
  auto list = JobQueue::list(conn, args.queue, state, args.limit);
  if (args.json) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& j : list)
      out.push_back({{"id", j.id}, {"state", jobs::to_string(j.state)}, {"queue", j.queue}, {"kind", j.kind},
                     {"attempt", j.attempt}, {"max_attempts", j.max_attempts}, {"enqueued_at", utc_text(j.enqueued_at)},
                     {"run_at", time_json(j.run_at)},
                     {"last_error", j.errors.empty() ? nlohmann::json(nullptr) : j.errors.back()["error"]}});
    print_json({{"jobs", out}});
    return;
  }
  if (list.empty()) {
    std::cout << "no jobs match\n";
    return;
  }
  std::cout << fmt::format("{:>10}  {:<10} {:<16} {:<24} {:>7}  {:<20}  {}\n", "id", "state", "queue", "kind", "attempt",
                           "run at / since", "last error");
  for (const auto& j : list)
    std::cout << fmt::format("{:>10}  {:<10} {:<16} {:<24} {:>3}/{:<3}  {:<20}  {}\n", j.id, jobs::to_string(j.state),
                             j.queue, j.kind, j.attempt, j.max_attempts, utc_or_dash(j.run_at),
                             j.errors.empty() ? "" : j.errors.back()["error"].get<std::string>().substr(0, 60));
}

void run_show(const JobsArgs& args) {
  set_command("pgstack jobs show");
  auto conn = open_queue(args);
  auto job = JobQueue::job(conn, args.id);
  if (!job)
    throw pgstack::Error(fmt::format("no job {}: it never existed, or it completed and its partition was truncated", args.id));
  if (args.json) {
    print_json(job_json(*job));
    return;
  }
  std::cout << fmt::format("job {}: {} ({} in queue {}, priority {})\n", job->id, jobs::to_string(job->state), job->kind,
                           job->queue, job->priority);
  std::cout << fmt::format("  attempt      {} of {}\n", job->attempt, job->max_attempts);
  std::cout << fmt::format("  enqueued at  {}\n", utc_text(job->enqueued_at));
  if (job->run_at) std::cout << fmt::format("  run at       {}\n", utc_text(job->run_at));
  if (job->finished_at) std::cout << fmt::format("  finished at  {}\n", utc_text(job->finished_at));
  if (job->unique_key) std::cout << fmt::format("  unique key   {}\n", *job->unique_key);
  if (!job->tags.empty()) std::cout << fmt::format("  tags         {}\n", fmt::join(job->tags, ", "));
  if (job->cancel_requested) std::cout << "  cancellation requested\n";
  std::cout << fmt::format("  args         {}\n", job->args.dump());
  for (const auto& e : job->errors)
    std::cout << fmt::format("  error (attempt {}, {}): {}\n", e.value("attempt", 0), e.value("at", ""), e.value("error", ""));
}

void run_retry(const JobsArgs& args) {
  set_command("pgstack jobs retry");
  auto conn = open_queue(args);
  JobQueue::retry(conn, args.id);
  if (args.json)
    print_json({{"id", args.id}, {"state", "available"}});
  else
    std::cout << fmt::format("job {} is available to run again\n", args.id);
}

void run_cancel(const JobsArgs& args) {
  set_command("pgstack jobs cancel");
  auto conn = open_queue(args);
  bool at_once = JobQueue::cancel(conn, args.id);
  if (args.json)
    print_json({{"id", args.id}, {"state", at_once ? "cancelled" : "cancelling"}});
  else if (at_once)
    std::cout << fmt::format("job {} is cancelled\n", args.id);
  else
    std::cout << fmt::format("job {}: cancellation requested; its worker skips it, or fires its cancel token if it is running\n",
                             args.id);
}

void run_pause(const JobsArgs& args, bool pause) {
  set_command(pause ? "pgstack jobs pause" : "pgstack jobs resume");
  auto conn = open_queue(args);
  if (pause)
    JobQueue::pause(conn, args.queue_name);
  else
    JobQueue::resume(conn, args.queue_name);
  if (args.json)
    print_json({{"queue", args.queue_name}, {"paused", pause}});
  else
    std::cout << fmt::format("queue {} {}\n", args.queue_name,
                             pause ? "is paused: workers claim nothing from it (running jobs finish)" : "is resumed");
}

}  // namespace

void add_commands(CLI::App& app) {
  auto* jobs = app.add_subcommand("jobs", "The job queue: statistics, jobs, retry, cancel, pause and resume (docs/jobs.md)");
  jobs->require_subcommand(1);
  auto args = std::make_shared<JobsArgs>();
  auto common = [&](CLI::App* cmd) {
    cmd->add_option("--db", args->db, "Database URL (default: $DATABASE_URL, then the local stack)");
    cmd->add_flag("--json", args->json, "Print as JSON");
  };
  auto job_id = [&](CLI::App* cmd) {
    cmd->add_option("id", args->id, "Job id")->required()->check(positive_id());
  };
  auto* stats = jobs->add_subcommand("stats", "Jobs per queue and state, finished totals and the oldest available job");
  common(stats);
  stats->callback([args] { run_stats(*args); });

  auto* list = jobs->add_subcommand("list", "Jobs that are waiting, running or ended without success, newest first");
  common(list);
  list->add_option("--queue", args->queue, "Only this queue");
  list->add_option("--state", args->state, "scheduled, retryable, available, running, discarded or cancelled");
  list->add_option("--limit", args->limit, "At most this many")->capture_default_str()->check(whole_number_in(1, 10000));
  list->callback([args] { run_list(*args); });

  auto* show = jobs->add_subcommand("show", "One job: state, args, attempts and every error");
  common(show);
  job_id(show);
  show->callback([args] { run_show(*args); });

  auto* retry = jobs->add_subcommand("retry", "Run a scheduled, retryable, discarded or cancelled job again now");
  common(retry);
  job_id(retry);
  retry->callback([args] { run_retry(*args); });

  auto* cancel = jobs->add_subcommand("cancel", "Cancel a job (a running one gets its cancel token fired)");
  common(cancel);
  job_id(cancel);
  cancel->callback([args] { run_cancel(*args); });

  auto* pause = jobs->add_subcommand("pause", "Stop workers claiming jobs of a queue");
  common(pause);
  pause->add_option("queue", args->queue_name, "Queue name")->required();
  pause->callback([args] { run_pause(*args, true); });

  auto* resume = jobs->add_subcommand("resume", "Let workers claim jobs of a paused queue again");
  common(resume);
  resume->add_option("queue", args->queue_name, "Queue name")->required();
  resume->callback([args] { run_pause(*args, false); });
}

}  // namespace pgstack::jobs
