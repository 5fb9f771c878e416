-- +goose Up
-- TLS client material of tcp:// engines. tls_sealed holds the CA, client
-- certificate and key sealed by the application (internal/secretbox,
-- AES-256-GCM under WINDFLOW_SECRET_KEY, bound to the environment's ID):
-- the database never sees them in clear. NULL means no TLS. The other
-- columns describe the material without secrets, for API answers and for
-- queries such as "client certificates expiring this month".
ALTER TABLE environments
    ADD COLUMN tls_sealed bytea,
    ADD COLUMN tls_ca boolean NOT NULL DEFAULT false,
    ADD COLUMN tls_client_subject text,
    ADD COLUMN tls_client_not_after timestamptz,
    ADD CONSTRAINT environments_tls_check CHECK (
        (tls_client_subject IS NULL) = (tls_client_not_after IS NULL)
        AND (tls_sealed IS NOT NULL OR (NOT tls_ca AND tls_client_subject IS NULL))
        AND (tls_sealed IS NULL OR (octet_length(tls_sealed) BETWEEN 1 AND 1048576
                                    AND lower(endpoint) LIKE 'tcp://%'))
    );

-- +goose Down
ALTER TABLE environments
    DROP CONSTRAINT environments_tls_check,
    DROP COLUMN tls_client_not_after,
    DROP COLUMN tls_client_subject,
    DROP COLUMN tls_ca,
    DROP COLUMN tls_sealed;
