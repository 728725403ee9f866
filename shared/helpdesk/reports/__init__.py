"""Service-level reports: daily aggregates from the table's stream, the report queries, CSAT."""
