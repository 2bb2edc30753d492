"""The EO import's test fixtures: a drop folder of the test's own and level-1 districts with DHIS2 UIDs."""
import json
import os

import pytest

from app.models import Job, OrgUnit, OrgUnitType
from app.services.processing.jobs import enqueue_job


def box(west, south, east, north):
    return {"type": "Polygon", "coordinates": [[[west, south], [east, south], [east, north], [west, north], [west, south]]]}


@pytest.fixture
def eo(app, db, make_user, tmp_path):
    """A cache folder of our own (no sample data) and a way to add level-1 districts with UIDs."""
    app.config.update(EO_CACHE_DIR=str(tmp_path), EO_SAMPLE_DATA=False)
    user = make_user()
    project_id = user.project_ids[0]
    kind = OrgUnitType(project_id=project_id, name="District", depth=0)
    db.session.add(kind)
    db.session.commit()

    class Eo:
        folder = tmp_path

        def dataset_dir(self, dataset_id):
            path = tmp_path / dataset_id
            path.mkdir(exist_ok=True)
            return path

        def district(self, uid, geometry, name=None):
            db.session.add(OrgUnit(project_id=project_id, name=name or uid, org_unit_type_id=kind.id, path="", depth=0,
                                   geometry=geometry, source_ref=f"dhis2:{uid}" if uid else None))
            db.session.commit()

        def run(self, run_worker, **inputs) -> Job:
            job = enqueue_job("eo-aggregate-import", {"orgUnitLevel": 1, "dataElement": "eoElement01", **inputs},
                              launcher=user, project_id=project_id)
            run_worker()
            db.session.expire_all()
            return db.session.get(Job, job.id)

        def values(self, client, job) -> dict:
            return {(v["orgUnit"], v["period"]): v["value"] for v in self.preview(job)["dataValues"]}

        def preview(self, job):
            from app.services.processing.artifacts import artifacts_dir

            with open(os.path.join(artifacts_dir(job.id), "payload-preview.json")) as fh:
                return json.load(fh)

    return Eo()
