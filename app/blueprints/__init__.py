"""Thin views: parse → one service call → page, partial or JSON."""
