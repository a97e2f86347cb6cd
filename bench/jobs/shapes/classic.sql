with c as (select id from jobs_c where state = 'available' and queue = 'default' and run_at <= now()
           order by priority, run_at, id limit :n for update skip locked),
     r as (update jobs_c j set state = 'running', attempt = j.attempt + 1 from c where j.id = c.id returning j.id, j.kind, j.args)
select coalesce(string_agg(id::text, ','), '0') as ids from r \gset
delete from jobs_c where id in (:ids) and state = 'running';
