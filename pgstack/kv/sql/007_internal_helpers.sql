-- Internal helpers are not part of the API (docs/kv.md lists it) and no application role
-- may call them: cache_view_refreshes_concurrently is used only by cache_refresh_views,
-- a maintenance task that runs with its owner's rights.
REVOKE EXECUTE ON FUNCTION pgstack.cache_view_refreshes_concurrently(regclass) FROM readwrite, readonly;
