"""The seller's setup API (admins only), one Powertools ``Router`` per area; ``functions/setup_api/handler.py``
assembles them."""
