"""The plannings blueprint, apart from its views so that they import it without importing the package
that imports them."""
from flask import Blueprint

bp = Blueprint("plannings", __name__, url_prefix="/plannings")
