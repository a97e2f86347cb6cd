with c as (update lease_cursor set next_id = next_id + :n where queue = 'default' returning next_id - :n as lo),
     b as (insert into job_batches (queue, lo, hi, worker, lease_expires_at) select 'default', lo, lo + :n, 'w', now() + interval '1 min' from c returning id, lo)
select b.id as bid, b.lo as lo from b \gset
select id, kind, args from jobs_s where id >= :lo and id < :lo + :n;
with d as (insert into job_done select generate_series(:lo, :lo + :n - 1)) update job_batches set state = 'done' where id = :bid;
