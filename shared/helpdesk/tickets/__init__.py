"""Tickets: threading and merge, the inbox queues and views, agent actions, collaboration."""
