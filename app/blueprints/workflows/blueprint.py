"""The workflow admin blueprint (/workflows); its view modules import it, the package imports them."""
from flask import Blueprint

bp = Blueprint("workflows", __name__, url_prefix="/workflows")
