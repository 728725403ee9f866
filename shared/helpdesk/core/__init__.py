"""The vocabulary every area shares: the domain model, errors, identifiers, the clock, list validation."""
