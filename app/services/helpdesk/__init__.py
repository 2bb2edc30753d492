"""Help desk: tickets and their intake, workflow matching, staff roles and round-robin, workflows,
ticket tasks (the seed's task API) and the task board."""
