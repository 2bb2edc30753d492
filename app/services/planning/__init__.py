"""Field work planning: org units and their import, teams, plannings, assignments and the assignment
map, LQAS sampling, OpenHEXA pipelines."""
