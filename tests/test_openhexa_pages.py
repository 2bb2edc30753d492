"""Pages never wait on OpenHEXA: the planning form and the sampling dialog render without calling it
(pipeline names from a one-minute Redis cache), and HTMX partials loaded after them list the
pipelines, read a pipeline's definition, or say why they cannot."""
import socket

from app.extensions import get_redis
from app.models import Planning
from app.schemas.openhexa import OpenHexaSettingsIn
from app.services.planning import openhexa
from app.schemas.planning import PlanningChanges
from app.services.planning.plannings import update_planning
from tests.openhexa_double import PIPELINE_ID, TOKEN, configured, double, short_http_timeout  # noqa: F401
from tests.planning_fixtures import country, planning  # noqa: F401

HX = {"HX-Request": "true"}


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_form_lists_pipelines_after_the_page_then_from_the_cache(client, login, configured, double, country):
    login(country.coordinator)
    form = client.get("/plannings/new").get_data(as_text=True)
    assert double.documents == []  # the page did not ask OpenHEXA
    assert 'hx-get="/plannings/pipeline-choices" hx-trigger="load"' in form and "Loading OpenHEXA" in form
    assert 'name="pipeline_uuids"' in form  # the picker is there (built-in selected) while the list loads
    partial = client.get("/plannings/pipeline-choices?pipeline_uuids=lqas-sampling", headers=HX)
    html = partial.get_data(as_text=True)
    assert partial.status_code == 200 and "<html" not in html and len(double.documents) == 1
    assert f'<option value="{PIPELINE_ID}" >Fieldflow LQAS (OpenHEXA)</option>' in html and 'hx-trigger="load"' not in html
    assert client.get("/plannings/pipeline-choices").get_data(as_text=True).count("<html") == 0  # a fragment either way
    keys = get_redis().keys("fieldflow:openhexa-pipelines:*")
    assert len(keys) == 1 and 0 < get_redis().ttl(keys[0]) <= 60
    again = client.get("/plannings/new").get_data(as_text=True)
    assert "Fieldflow LQAS (OpenHEXA)" in again and 'hx-trigger="load"' not in again and len(double.documents) == 1
    # another configuration is another cache key: the list is read again
    openhexa.save_config(configured, OpenHexaSettingsIn(openhexa_url=double.url, workspace_slug="other"))
    assert 'hx-trigger="load"' in client.get("/plannings/new").get_data(as_text=True)


def test_slow_openhexa_never_delays_the_form_or_the_dialog(client, login, configured, short_http_timeout, double,
                                                           country, planning):
    double.latency = 3.0  # longer than the 0.5 s HTTP timeout
    update_planning(country.coordinator, planning.id, PlanningChanges(pipeline_uuids=["lqas-sampling", PIPELINE_ID]))
    login(country.coordinator)
    for url in ("/plannings/new", f"/plannings/{planning.id}/edit", f"/plannings/{planning.id}/sample",
                f"/plannings/{planning.id}/sample?pipeline={PIPELINE_ID}"):
        response = client.get(url, headers=HX if "sample" in url else {})
        assert response.status_code == 200, url
    assert double.documents == []  # none of them asked OpenHEXA (so none can wait on it)
    edit = client.get(f"/plannings/{planning.id}/edit").get_data(as_text=True)
    assert f'<option value="{PIPELINE_ID}" selected>' in edit  # the chosen pipeline is kept while names load
    choices = client.get(f"/plannings/pipeline-choices?pipeline_uuids={PIPELINE_ID}", headers=HX).get_data(as_text=True)
    assert "Could not list OpenHEXA&#39;s pipelines (OpenHEXA unreachable: ReadTimeout)" in choices and "Retry" in choices
    assert f'<option value="{PIPELINE_ID}" selected>' in choices
    names = client.get(f"/plannings/{planning.id}/sample/pipelines?pipeline={PIPELINE_ID}", headers=HX).get_data(as_text=True)
    assert f"{PIPELINE_ID} (OpenHEXA)" in names and "Could not list" in names
    section = client.get(f"/plannings/{planning.id}/sample/pipeline?pipeline={PIPELINE_ID}", headers=HX).get_data(as_text=True)
    assert "Could not read the pipeline from OpenHEXA: OpenHEXA unreachable: ReadTimeout" in section and "Try again" in section


def test_closed_port_and_missing_configuration_are_said(client, login, csrf, configured, double, country, planning):
    openhexa.save_config(configured, OpenHexaSettingsIn(openhexa_url=f"http://127.0.0.1:{_closed_port()}/graphql/",
                                                        workspace_slug="demo"))
    update_planning(country.coordinator, planning.id, PlanningChanges(pipeline_uuids=["lqas-sampling", PIPELINE_ID]))
    login(country.coordinator)
    choices = client.get("/plannings/pipeline-choices", headers=HX).get_data(as_text=True)
    assert "OpenHEXA unreachable: ConnectionError" in choices
    launched = client.post(f"/plannings/{planning.id}/sample", headers={**HX, "X-CSRFToken": csrf()},
                           data={"pipeline": PIPELINE_ID, "param_seed": "1"})
    text = launched.get_data(as_text=True)
    assert launched.status_code == 422 and "Could not read the pipeline from OpenHEXA" in text and "Try again" in text
    openhexa.get_config().openhexa_url = ""  # not configured any more
    from app.extensions import db

    db.session.commit()
    form = client.get("/plannings/new").get_data(as_text=True)
    assert "OpenHEXA is not configured" in form and 'hx-trigger="load"' not in form
    dialog = client.get(f"/plannings/{planning.id}/sample", headers=HX).get_data(as_text=True)
    assert '<input type="hidden" name="pipeline" value="lqas-sampling">' in dialog and "Level 1" in dialog


def test_form_errors_rerender_with_the_chosen_pipelines_then_save_them(client, login, csrf, configured, double, country,
                                                                       db):
    login(country.coordinator)
    token = csrf()
    fields = {"team_id": country.root_team.id, "org_unit_id": country.country.id,
              "pipeline_uuids": ["lqas-sampling", PIPELINE_ID], "csrf_token": token}
    bad = client.post("/plannings/new", data={**fields, "name": ""})
    html = bad.get_data(as_text=True)
    assert bad.status_code == 400 and "is required" in html and double.documents == []
    assert f'<option value="{PIPELINE_ID}" selected>' in html and '<option value="lqas-sampling" selected>' in html
    assert client.post("/plannings/new", data={**fields, "name": "With OpenHEXA"}).status_code == 302
    saved = db.session.query(Planning).filter_by(name="With OpenHEXA").one()
    assert saved.pipeline_uuids == ["lqas-sampling", PIPELINE_ID]
    edit = client.post(f"/plannings/{saved.id}/edit", data={**fields, "name": "", "pipeline_uuids": [PIPELINE_ID]})
    assert edit.status_code == 400 and "Edit planning" in edit.get_data(as_text=True)
    assert '<option value="lqas-sampling" >' in edit.get_data(as_text=True)  # the unselected built-in stays unselected


def test_admin_settings_page(client, login, csrf, configured, double, country):
    """The platform operator only; the form shows the stored settings but never the token; a bad post names the field
    and changes nothing; `check` lists the workspace's pipelines."""
    login(country.coordinator)
    assert client.get("/admin/openhexa/").status_code == 403
    assert client.post("/admin/openhexa/", data={"workspace_slug": "x", "csrf_token": csrf()}).status_code == 403
    client.post("/logout", data={"csrf_token": csrf()})
    login(configured)
    page = client.get("/admin/openhexa/").get_data(as_text=True)
    assert 'value="demo"' in page and "stored — leave blank to keep it" in page
    assert TOKEN not in page and "Pipelines in the workspace" not in page
    bad = client.post("/admin/openhexa/", data={"openhexa_url": "ftp://nope", "workspace_slug": "other",
                                                "csrf_token": csrf()})
    assert bad.status_code == 400 and "must be an http(s) URL" in bad.get_data(as_text=True)
    assert 'value="other"' in bad.get_data(as_text=True) and openhexa.get_config().workspace_slug == "demo"
    checked = client.get("/admin/openhexa/?check=1").get_data(as_text=True)
    assert "Fieldflow LQAS" in checked and PIPELINE_ID in checked
    saved = client.post("/admin/openhexa/", data={"openhexa_url": double.url, "workspace_slug": "demo",
                                                  "timeout_minutes": "20", "csrf_token": csrf()})
    assert saved.status_code == 302 and openhexa.get_config().timeout_minutes == 20
