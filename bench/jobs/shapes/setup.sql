-- Scratch tables for bench/jobs/shapes/run (not pgstack's schema).
drop table if exists jobs_c, jobs_s, lease_cursor, job_batches, job_done, job_ticks;
create table jobs_c (id bigserial primary key, queue text not null default 'default', kind text not null,
  args jsonb not null, priority smallint not null default 0, run_at timestamptz not null default now(),
  state text not null default 'available', attempt int not null default 0, max_attempts int not null default 25);
create index jobs_c_fetch on jobs_c (queue, priority, run_at, id) where state = 'available';
create table jobs_s (id bigserial primary key, xid xid8 not null default pg_current_xact_id(),
  queue text not null default 'default', kind text not null, args jsonb not null, attempt int not null default 0);
create table lease_cursor (queue text primary key, next_id bigint not null);
create table job_batches (id bigserial primary key, queue text, lo bigint, hi bigint, worker text,
  lease_expires_at timestamptz, state text not null default 'running');
create table job_done (job_id bigint not null);
create table job_ticks (tick int primary key, snapshot pg_snapshot not null);
