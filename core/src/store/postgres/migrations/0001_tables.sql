-- The engine's tables. Values are the same versioned JSON the embedded
-- backend keeps (`record`, `sealed`); the columns beside them are what the
-- engine looks records up by.

CREATE TABLE enablements (
    workspace   text  NOT NULL,
    integration text  NOT NULL,
    record      bytea NOT NULL,
    PRIMARY KEY (workspace, integration)
);

CREATE TABLE workspace_credentials (
    workspace   text  NOT NULL,
    integration text  NOT NULL,
    -- The master key the credential is sealed under, for key rotation.
    key_id      text  NOT NULL,
    record      bytea NOT NULL,
    PRIMARY KEY (workspace, integration)
);
CREATE INDEX workspace_credentials_by_key ON workspace_credentials (key_id);

CREATE TABLE connections (
    workspace   text  NOT NULL,
    integration text  NOT NULL,
    owner       text  NOT NULL,
    id          text  NOT NULL UNIQUE,
    record      bytea NOT NULL,
    -- The credential, kept in its own column so pages never read it.
    key_id      text  NOT NULL,
    sealed      bytea NOT NULL,
    PRIMARY KEY (workspace, integration, owner)
);
CREATE INDEX connections_by_key ON connections (key_id);
-- A member's own connections, for the Integrations page.
CREATE INDEX connections_by_owner ON connections (workspace, owner);

CREATE TABLE audit (
    workspace text   NOT NULL,
    seq       bigint NOT NULL,
    record    bytea  NOT NULL,
    PRIMARY KEY (workspace, seq)
);

CREATE TABLE audit_heads (
    workspace text   PRIMARY KEY,
    seq       bigint NOT NULL,
    hash      text   NOT NULL
);

CREATE TABLE usage (
    workspace   text   NOT NULL,
    integration text   NOT NULL,
    member      text   NOT NULL,
    day         bigint NOT NULL,
    calls       bigint NOT NULL,
    credits     bigint NOT NULL,
    PRIMARY KEY (workspace, integration, member, day)
);

CREATE TABLE workspace_credits (
    workspace text   NOT NULL,
    month     bigint NOT NULL,
    credits   bigint NOT NULL,
    PRIMARY KEY (workspace, month)
);

CREATE TABLE credit_limits (
    workspace    text   PRIMARY KEY,
    credit_limit bigint NOT NULL
);

CREATE TABLE oauth_flows (
    state         text   PRIMARY KEY,
    expires_at_ms bigint NOT NULL,
    record        bytea  NOT NULL
);
CREATE INDEX oauth_flows_by_expiry ON oauth_flows (expires_at_ms);

CREATE TABLE sessions (
    id            text   PRIMARY KEY,
    expires_at_ms bigint NOT NULL,
    record        bytea  NOT NULL
);
CREATE INDEX sessions_by_expiry ON sessions (expires_at_ms);
