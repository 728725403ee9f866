"""Languages: detecting the buyer's, translating both ways, agents and buyers without a shared one."""
