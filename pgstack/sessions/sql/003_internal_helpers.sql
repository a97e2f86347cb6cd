-- Internal helpers are not part of the API (docs/sessions.md lists it) and no application
-- role may call them: session_token_hash is used only inside functions that run
-- with the owner's rights. (session_valid_until stays granted: session_list
-- runs as its caller and calls it.)
REVOKE EXECUTE ON FUNCTION pgstack.session_token_hash(text) FROM readwrite, readonly;
