-- Single sign-on round trips under way: made when the studio sends a browser to the OpenID
-- provider, taken (deleted) when the provider sends it back, so a `state` works once. The
-- state and the browser's binding cookie are stored as hashes.
CREATE TABLE sign_in_requests (
    state_hash TEXT PRIMARY KEY,
    browser_hash TEXT NOT NULL,
    nonce TEXT NOT NULL,
    verifier TEXT NOT NULL,
    next_path TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
