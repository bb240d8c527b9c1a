"""Queue position and ETA for waiting jobs (SPEC §13), from the database and measured service times."""
