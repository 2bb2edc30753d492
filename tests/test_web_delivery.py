"""What goes over the wire: compressed responses, content-hashed static files cached for a year,
polled partials answered 304 when unchanged."""
import gzip
import re

import brotli

from tests.planning_fixtures import country, planning  # noqa: F401


def test_pages_are_compressed_and_static_names_carry_their_content_hash(client, login, country):
    login(country.coordinator)
    page = client.get("/plannings/", headers={"Accept-Encoding": "gzip, deflate, br, zstd"})
    assert page.status_code == 200 and page.headers["Content-Encoding"] == "br"
    html = brotli.decompress(page.data).decode()
    assert "Vary" in page.headers and "Accept-Encoding" in page.headers["Vary"]
    css = re.search(r'href="(/static/css/app\.([0-9a-f]{12})\.css)"', html)
    assert css, "the stylesheet is linked by a hashed name"
    asset = client.get(css.group(1), headers={"Accept-Encoding": "gzip"})
    assert asset.status_code == 200
    assert asset.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    plain = client.get("/static/css/app.css")
    assert gzip.decompress(asset.data) == plain.data and plain.headers["Cache-Control"] == "no-cache"
    stale = client.get("/static/css/app.000000000000.css")  # a name from before a deploy: today's file
    assert stale.status_code == 200 and stale.data == plain.data and "immutable" not in stale.headers["Cache-Control"]
    assert client.get("/static/css/nothing.0123456789ab.css").status_code == 404


def test_an_unchanged_polled_partial_costs_a_304(client, login, country):
    login(country.coordinator)
    headers = {"HX-Request": "true", "Accept-Encoding": "gzip"}
    first = client.get("/plannings/?q=zzz", headers=headers)
    assert first.status_code == 200 and "No plannings match" in _text(first)
    etag = first.headers["ETag"]
    assert first.headers["Cache-Control"] == "no-cache, private"
    again = client.get("/plannings/?q=zzz", headers={**headers, "If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""
    changed = client.get("/plannings/", headers={**headers, "If-None-Match": etag})
    assert changed.status_code == 200 and changed.data
    full = client.get("/plannings/?q=zzz")  # a full page (not a poll) is not made conditional
    assert "ETag" not in full.headers


def _text(response) -> str:
    encoded = response.headers.get("Content-Encoding")
    return (gzip.decompress(response.data) if encoded == "gzip" else response.data).decode()
