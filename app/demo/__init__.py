"""Demo data for `make run` and `flask demo load`: a tiled country with teams and users (planning),
and a help desk with workflows and tickets (helpdesk)."""
