-- Events, as every node hears them: a node publishing one inserts it here
-- and notifies `switchboard_events` with its id; each node's listener
-- reads it back for its own subscribers. `claimed` makes a webhook go out
-- from one node only. Rows are kept an hour.

CREATE TABLE events (
    id      text    PRIMARY KEY,
    at_ms   bigint  NOT NULL,
    record  bytea   NOT NULL,
    claimed boolean NOT NULL DEFAULT false
);
CREATE INDEX events_by_time ON events (at_ms);
