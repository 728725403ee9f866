"""Benchmarks of the helpdesk (``make bench`` runs ``python -m bench.run``)."""
