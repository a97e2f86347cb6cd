-- The capability contract (docs/architecture.md): what doctor, metrics and advise read
-- from each capability, in SQL so that any tool can call it. A capability <name> defines
-- those of these it has:
--
--   pgstack.<name>_health(thresholds jsonb) RETURNS TABLE (check_name, severity, subject, what, why, fix)
--     one row with severity 'ok' for each check it ran, then one row per finding
--     (severity 'info', 'warning' or 'critical'); thresholds by their [doctor] key,
--     a key left out taking the default.
--   pgstack.<name>_metrics() RETURNS TABLE (family, type, help, labels jsonb, value)
--     Prometheus samples; labels is an object of text values.
--   pgstack.<name>_usage() RETURNS jsonb
--     counters advise reads at the start and end of its window, and
--   pgstack.<name>_advice(before jsonb, after jsonb, seconds float8) RETURNS SETOF
--     pgstack.advice_evidence: whether a figure justifies another system (made with
--     pgstack.advice_verdict()).
--
-- This module's own part: housekeeping's health (core_health), the words for figures
-- that every capability's texts use, and pgstack.health() / pgstack.metrics(), which
-- gather every capability's at once.

-- Words for figures, as doctor prints them: '9.5 s', '45 s', '2m 05s', '3h 20m', '4 days'.
CREATE FUNCTION pgstack.seconds_text(seconds double precision)
RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
  SELECT CASE
    WHEN seconds < 10 THEN to_char(seconds, 'FM999990.0') || ' s'
    WHEN w < 120 THEN w::text || ' s'
    WHEN w < 7200 THEN (w / 60)::text || 'm ' || lpad((w % 60)::text, 2, '0') || 's'
    WHEN w < 172800 THEN (w / 3600)::text || 'h ' || lpad((w / 60 % 60)::text, 2, '0') || 'm'
    ELSE (w / 86400)::text || ' days'
  END
  FROM (SELECT round(seconds::numeric)::bigint AS w) whole
$$;

-- A ratio as a percentage with one decimal: 0.8123 is '81.2%'.
CREATE FUNCTION pgstack.percent_text(ratio double precision)
RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pgstack, pg_temp
AS $$ SELECT to_char(ratio * 100, 'FM999999990.0') || '%' $$;

-- One row of advise's evidence: a figure against the threshold past which another
-- system (or more hardware) is justified, with the verdict either way. A capability's
-- pgstack.<name>_advice() returns rows of this type.
CREATE TYPE pgstack.advice_evidence AS (
  area text, figure text, measured double precision, measured_text text, threshold double precision,
  threshold_text text, alternative text, justified boolean, verdict text, headroom double precision
);

CREATE FUNCTION pgstack.advice_verdict(area text, figure text, measured double precision, measured_text text,
                                       threshold double precision, threshold_text text, alternative text,
                                       fine text, act text)
RETURNS pgstack.advice_evidence LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
  SELECT ROW(area, figure, measured, measured_text, threshold, threshold_text, alternative,
             measured > threshold,
             CASE WHEN measured > threshold THEN act
                  WHEN measured > 0 THEN fine || ' (headroom ' || to_char(threshold / measured, 'FM999999990.0') || 'x)'
                  ELSE fine || ' (idle now)' END,
             CASE WHEN measured > 0 THEN threshold / measured END)::pgstack.advice_evidence
$$;

-- Housekeeping: pg_cron (or cron) runs pgstack.maintain() every minute; a task overdue
-- by five minutes has no runner. Not checked on a standby, which runs no tasks.
CREATE FUNCTION pgstack.core_health(thresholds jsonb DEFAULT '{}')
RETURNS TABLE (check_name text, severity text, subject text, what text, why text, fix text)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
  SELECT 'housekeeping_overdue', 'ok', NULL, NULL, NULL, NULL
  UNION ALL
  SELECT 'housekeeping_overdue', 'warning', 'pgstack.maintain()',
         format('%s maintenance task(s) are overdue by up to %s (%s)', count(*),
                pgstack.seconds_text(extract(epoch FROM now() - min(t.next_run_at))::float8),
                string_agg(t.name, ', ' ORDER BY t.name)),
         'expired keys, sessions and rate-limit entries pile up, views go stale, dead workers'' jobs stay stuck',
         'pgstack install (schedules pgstack.maintain() with pg_cron when it is installed), or run pgstack maintain '
         'from cron every minute (docs/maintenance.md)'
  FROM pgstack.maintenance_tasks t
  WHERE NOT pg_is_in_recovery() AND t.next_run_at < now() - interval '300 seconds'
  HAVING count(*) > 0
$$;

-- Every installed capability's health at once: SELECT * FROM pgstack.health();
-- A capability whose function fails gives one row saying so; the others still run.
CREATE FUNCTION pgstack.health(thresholds jsonb DEFAULT '{}')
RETURNS TABLE (capability text, check_name text, severity text, subject text, what text, why text, fix text)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
DECLARE
  f record;
BEGIN
  FOR f IN SELECT format('%I.%I', n.nspname, p.proname) AS fn, left(p.proname, -length('_health')) AS cap
           FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
           WHERE n.nspname = 'pgstack' AND p.proname LIKE '%\_health' AND p.proargtypes = '3802'::oidvector
           ORDER BY p.proname
  LOOP
    BEGIN
      RETURN QUERY EXECUTE format('SELECT %L::text, h.* FROM %s($1) h', f.cap, f.fn) USING thresholds;
    EXCEPTION WHEN OTHERS THEN
      RETURN QUERY SELECT f.cap, f.cap || '_health', 'warning', 'check', 'could not run: ' || SQLERRM,
                          'this capability''s condition is unknown; the others ran',
                          'run it alone to see the error: SELECT * FROM ' || f.fn || '(''{}'')';
    END;
  END LOOP;
END
$$;

-- Every installed capability's Prometheus samples at once: SELECT * FROM pgstack.metrics();
CREATE FUNCTION pgstack.metrics()
RETURNS TABLE (capability text, family text, type text, help text, labels jsonb, value double precision)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
DECLARE
  f record;
BEGIN
  FOR f IN SELECT format('%I.%I', n.nspname, p.proname) AS fn, left(p.proname, -length('_metrics')) AS cap
           FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
           WHERE n.nspname = 'pgstack' AND p.proname LIKE '%\_metrics' AND p.pronargs = 0
           ORDER BY p.proname
  LOOP
    RETURN QUERY EXECUTE format('SELECT %L::text, m.* FROM %s() m', f.cap, f.fn);
  END LOOP;
END
$$;

REVOKE ALL ON FUNCTION pgstack.seconds_text(double precision), pgstack.percent_text(double precision),
  pgstack.advice_verdict(text, text, double precision, text, double precision, text, text, text, text),
  pgstack.core_health(jsonb), pgstack.health(jsonb), pgstack.metrics() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pgstack.seconds_text(double precision), pgstack.percent_text(double precision),
  pgstack.advice_verdict(text, text, double precision, text, double precision, text, text, text, text),
  pgstack.core_health(jsonb), pgstack.health(jsonb), pgstack.metrics() TO readwrite, readonly;
