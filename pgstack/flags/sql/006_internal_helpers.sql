-- Internal helpers are not part of the API (docs/flags.md lists it) and no application
-- role may call them. flag_evaluation, which calls flag_constraint_matches, runs as the
-- owner from this release; it is read-only (STABLE), builds no SQL from its arguments
-- and answers the same whoever asks. (flag_bucket is API: docs/flags.md lists it.)
-- flag_actor is called only by flag_set and the change-recording triggers, which run as
-- the owner already.
ALTER FUNCTION pgstack.flag_evaluation(text, text, text, jsonb) SECURITY DEFINER SET search_path = pg_catalog, pgstack, pg_temp;

REVOKE EXECUTE ON FUNCTION pgstack.flag_constraint_matches(jsonb, jsonb) FROM readwrite, readonly;
REVOKE EXECUTE ON FUNCTION pgstack.flag_actor() FROM readwrite, readonly;
