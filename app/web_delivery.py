"""What goes over the wire: compression, content-hashed static files, conditional polled partials.

- Responses are compressed (Flask-Compress: brotli, else gzip) when the client accepts it.
- `url_for('static', filename='css/app.css')` yields `/static/css/app.<hash>.css`; a hashed name is
  served with a year of `Cache-Control: public, immutable` (a changed file gets a new name, so a
  browser never asks again). Only the basename changes, so relative URLs inside CSS still resolve.
  Unhashed names keep working (revalidated, `no-cache`).
- A GET answered to HTMX (a polled partial) carries an `ETag` and `Cache-Control: no-cache`: the
  browser revalidates with `If-None-Match` and an unchanged partial costs a 304 with no body and
  only the headers HTTP requires. `revalidated(response)` does the same for any GET (the map's shapes).
"""
from __future__ import annotations

import hashlib
import os
import re

from flask import Flask, Response, request, send_from_directory
from flask_compress import Compress

IMMUTABLE = "public, max-age=31536000, immutable"
_HASHED = re.compile(r"^(?P<stem>.+)\.(?P<digest>[0-9a-f]{12})(?P<ext>\.[A-Za-z0-9]+)$")

compress = Compress()


def init_app(app: Flask) -> None:
    app.config.setdefault("COMPRESS_ALGORITHM", ["br", "gzip"])  # zstd needs a backport on 3.11
    app.config.setdefault("COMPRESS_MIMETYPES", [
        "text/html", "text/css", "text/plain", "text/xml", "text/csv", "text/javascript",
        "application/javascript", "application/json", "application/geo+json", "application/problem+json",
        "image/svg+xml"])
    compress.init_app(app)
    # Registered after Flask-Compress, so it runs before it (after_request runs in reverse): the
    # ETag is set on the plain body, then Compress suffixes it with the encoding and answers 304.
    app.after_request(_conditional_partial)
    # First in the list, so it runs last, after the correlation ids are echoed (logging_setup).
    app.after_request_funcs.setdefault(None, []).insert(0, _bare_not_modified)
    _hashed_static(app)


def revalidated(response: Response) -> Response:
    """The response with an ETag of its body and `no-cache`: the browser keeps it and asks again with
    `If-None-Match`; an unchanged body is answered 304 without it."""
    if request.method == "GET" and response.status_code == 200 and not response.is_streamed:
        response.headers["Cache-Control"] = "no-cache, private"
        # 64 bits of SHA-256 tell one version of a URL's body from another; a short tag is sent
        # back and forth with every poll.
        response.set_etag(hashlib.sha256(response.get_data()).hexdigest()[:16])
        response.make_conditional(request)
    return response


def _conditional_partial(response: Response) -> Response:
    if (request.headers.get("HX-Request") == "true" and response.mimetype == "text/html"
            and "Set-Cookie" not in response.headers and "ETag" not in response.headers):
        return revalidated(response)
    return response


def _bare_not_modified(response: Response) -> Response:
    """A 304 to a poll carries only what HTTP requires (Date, ETag, Vary, Cache-Control): an idle
    queue polled every 3 s then costs about 210 bytes a poll. The request's correlation id is still
    in the server's request log; it is not echoed on a response without a body."""
    if response.status_code == 304 and request.headers.get("HX-Request") == "true":
        response.headers.pop("X-Correlation-ID", None)
        response.headers.pop("X-Request-ID", None)
    return response


class _Digests:
    """Content digests of static files, recomputed when a file's mtime changes."""

    def __init__(self, folder: str):
        self.folder = folder
        self._cache: dict[str, tuple[float, str]] = {}

    def digest(self, filename: str) -> str | None:
        path = os.path.join(self.folder, filename)
        try:
            mtime = os.stat(path).st_mtime
        except OSError:
            return None
        known = self._cache.get(filename)
        if known and known[0] == mtime:
            return known[1]
        with open(path, "rb") as handle:
            digest = hashlib.sha256(handle.read()).hexdigest()[:12]
        self._cache[filename] = (mtime, digest)
        return digest

    def hashed_name(self, filename: str) -> str:
        digest = self.digest(filename)
        if digest is None:
            return filename
        stem, ext = os.path.splitext(filename)
        return f"{stem}.{digest}{ext}"


def _hashed_static(app: Flask) -> None:
    digests = _Digests(app.static_folder)

    @app.url_defaults
    def _hash_static_names(endpoint: str, values: dict) -> None:
        if endpoint == "static" and "filename" in values:
            values["filename"] = digests.hashed_name(values["filename"])

    def static(filename: str):
        match = _HASHED.match(filename)
        if match and digests.digest(match["stem"] + match["ext"]) is not None:
            original = match["stem"] + match["ext"]
            if digests.digest(original) == match["digest"]:
                response = send_from_directory(app.static_folder, original, max_age=31536000)
                response.headers["Cache-Control"] = IMMUTABLE
                return _buffered(response)
            filename = original  # an older page's name: today's file, revalidated
        response = send_from_directory(app.static_folder, filename, max_age=0)
        response.headers["Cache-Control"] = "no-cache"
        return _buffered(response)

    app.view_functions["static"] = static


def _buffered(response: Response) -> Response:
    """A static file read into memory, so Flask-Compress compresses it with gzip as well (it leaves
    gzip out for streamed bodies) and a 304 still answers a matching `If-None-Match`."""
    if response.status_code == 200:
        response.direct_passthrough = False
        response.make_sequence()
    return response
