"""Who created, deleted, retried a store or revealed its credentials, when and from where.

`audit.log.record(...)` writes one `AuditEntry`; the admin shows them read-only.
"""
