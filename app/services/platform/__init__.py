"""What every domain stands on: tenancy (access), users and roles, permissions and tokens, the audit
log, domain errors, the outbox event writer, metrics counters, bulk inserts, secrets at rest."""
