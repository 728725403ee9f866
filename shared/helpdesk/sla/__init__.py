"""SLA policies, business-hours calendars and the timers that hold tickets to them."""
