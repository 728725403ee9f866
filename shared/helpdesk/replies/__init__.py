"""What goes out to buyers: agent replies and their dispatch, e-mail replies, the outbox, macros,
automatic answers, proactive messages, drafts."""
