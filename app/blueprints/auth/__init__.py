"""Login and logout pages."""
from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user

from app.blueprints.inputs import form_data
from app.schemas.auth import LoginIn
from app.schemas.users import ProfileIn
from app.schemas.parsing import validate_data
from app.services.platform.errors import RateLimited, ValidationFailed
from app.services.platform.users import authenticate, time_zone_choices, update_profile

bp = Blueprint("auth", __name__)


def _safe_next(target: str | None) -> str:
    """Only same-site relative paths: an open redirect would hand the session to anyone."""
    if not target:
        return url_for("main.index")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return url_for("main.index")
    return target


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(_safe_next(request.args.get("next")))
    error, errors, status, username = None, {}, 200, ""
    if request.method == "POST":
        form = form_data(LoginIn)
        username = form.get("username") or ""
        try:
            credentials = validate_data(LoginIn, form, "Cannot log in")
            user = authenticate(credentials, request.remote_addr)
        except ValidationFailed as exc:
            user, errors, status = None, exc.details, 400
        except RateLimited as exc:
            user, error, status = None, exc.message, 429
        else:
            if user is None:
                error, status = "Invalid username or password.", 401
        if user is not None:
            login_user(user, remember=credentials.remember)
            flash(f"Welcome, {user.display_name}.", "success")
            return redirect(_safe_next(request.args.get("next")))
    return render_template("auth/login.html", error=error, errors=errors, username=username), status


@bp.route("/profile", methods=["GET", "POST"])
@login_required
def profile():
    errors, status = {}, 200
    if request.method == "POST":
        try:
            update_profile(current_user, validate_data(ProfileIn, form_data(ProfileIn), "Cannot save the profile"))
        except ValidationFailed as exc:
            errors, status = exc.details, 400
        else:
            flash("Profile saved.", "success")
            return redirect(url_for("auth.profile"))
    return render_template("auth/profile.html", zones=time_zone_choices(), errors=errors), status


@bp.post("/logout")
@login_required
def logout():
    logout_user()
    flash("You are logged out.", "info")
    return redirect(url_for("auth.login"))
