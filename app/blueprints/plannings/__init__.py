"""Planning pages: list, create/edit, publish, the assignment map, sampling dialog and past runs."""
from app.blueprints.plannings import export_views, mine_views, planning_views, sampling_views  # noqa: F401  (they register routes on bp)
from app.blueprints.plannings.blueprint import bp

__all__ = ["bp"]
