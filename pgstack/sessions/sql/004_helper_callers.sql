-- session_list, which calls the internal helper session_valid_until, runs as the owner
-- from this release, so that no application role may call the helper. It is read-only
-- (STABLE), builds no SQL from its arguments and answers the same whoever asks.
ALTER FUNCTION pgstack.session_list(text) SECURITY DEFINER SET search_path = pg_catalog, pgstack, pg_temp;

REVOKE EXECUTE ON FUNCTION pgstack.session_valid_until(pgstack.sessions) FROM readwrite, readonly;
