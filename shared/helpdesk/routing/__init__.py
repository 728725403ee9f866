"""Reading and routing a ticket: intent, the seller's rules, the intake decision and workflow, aging."""
