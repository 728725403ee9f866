"""The agents' HTTP API, one Powertools ``Router`` per area; ``functions/agent_api/handler.py`` assembles
them into the resolver whose OpenAPI document is ``docs/openapi.json``."""
