"""In-memory fakes for the unit tier, one module per port: ``repository`` (the storage ports the
services declare: tickets, orders, stores, inbox, collaboration), ``sla_timers``, ``raw_store``,
``publisher``, ``secrets``, and ``sleep`` (retry backoff without waiting)."""
