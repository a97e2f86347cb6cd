-- The stream shape with PgQ-style ticks: a batch is the jobs whose transaction is
-- visible in tick 2's snapshot and not in tick 1's; it is handed out in chunks of 100
-- ids, each chunk one lease row.
with c as (update lease_cursor set next_id = next_id + :n where queue = 'default' returning next_id - :n as lo),
     b as (insert into job_batches (queue, lo, hi, worker, lease_expires_at) select 'default', lo, lo + :n, 'w', now() + interval '1 min' from c returning id, lo)
select b.id as bid, b.lo as lo from b \gset
select id, kind, args from jobs_s
 where id >= :lo and id < :lo + :n
   and pg_visible_in_snapshot(xid, (select snapshot from job_ticks where tick = 2))
   and not pg_visible_in_snapshot(xid, (select snapshot from job_ticks where tick = 1));
with d as (insert into job_done select generate_series(:lo, :lo + :n - 1)) update job_batches set state = 'done' where id = :bid;
