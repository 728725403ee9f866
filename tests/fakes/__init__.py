"""In-memory fakes for the unit tier, one module per port: ``repository/`` (the storage ports the services
declare, one module per kind of record as in the DynamoDB adapter: stores, tickets, orders, ticket moves,
inbox, routing config), ``sla_timers``, ``raw_store``, ``publisher``, ``secrets``, and ``sleep`` (retry
backoff without waiting)."""
