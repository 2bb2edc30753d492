"""Words people use: job pages titled by what ran, JSON only for integrators, times in the viewer's zone."""
from tests.planning_fixtures import country, planning  # noqa: F401


def test_a_sampling_job_page_says_what_ran_in_the_viewers_time_zone(client, login, country, planning):
    from app.services.planning.sampling import launch_sampling

    job = launch_sampling(country.coordinator, planning.id, {
        "org_unit_type_sequence_identifiers": [country.types["REGION"].id], "org_unit_type_quantities": [1], "seed": 3})
    login(country.coordinator)
    html = client.get(f"/jobs/{job.id}").get_data(as_text=True)
    title = f"Sampling for Round 1 — {country.country.name}"
    assert f"<h1>{title}</h1>" in html and f"<title>{title} · Fieldflow</title>" in html
    assert "What it was given" in html and "Planning id" in html
    before, _, integrators = html.partition("For integrators</summary>")
    assert '<pre class="json">' not in before and '<pre class="json">' in integrators
    assert " UTC</dd>" in html  # no zone known yet
    client.set_cookie("tz", "Africa/Nairobi")
    assert " EAT</dd>" in client.get(f"/jobs/{job.id}").get_data(as_text=True)
    client.set_cookie("tz", "Mars/Olympus_Mons")  # not a zone: UTC, no error
    assert " UTC</dd>" in client.get(f"/jobs/{job.id}").get_data(as_text=True)
