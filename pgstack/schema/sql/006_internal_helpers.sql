-- Internal helpers are not part of the API (docs/architecture.md, "The SQL API's
-- names") and no application role may call them. The formatting helpers below are
-- called by the capabilities' health and advice functions, which from this release
-- run as the owner for that reason; each capability's own migration makes its callers
-- do so (`pgstack install` applies them in the same run, core first).
ALTER FUNCTION pgstack.core_health(jsonb) SECURITY DEFINER SET search_path = pg_catalog, pgstack, pg_temp;

REVOKE EXECUTE ON FUNCTION pgstack.percent_text(double precision) FROM readwrite, readonly;
REVOKE EXECUTE ON FUNCTION pgstack.seconds_text(double precision) FROM readwrite, readonly;
REVOKE EXECUTE ON FUNCTION pgstack.advice_verdict(text, text, double precision, text, double precision, text, text, text, text)
  FROM readwrite, readonly;
