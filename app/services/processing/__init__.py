"""The job engine: the process registry, jobs and their status vocabularies, the step runner,
schedules, artifacts, and the EO data and DHIS2 pieces the EO import uses."""
