"""Declared input schemas (pydantic v2): one model per action, shared by the form and the API.

`types` holds the constrained building blocks (ids bounded by their column, text without NUL or
lone surrogates and with a length cap, bounded paging); `parsing.validate` turns a body, query or
form into a model or one `ValidationFailed` naming every bad field. JSON is validated strictly (no
bool → int, no float truncation, no "5" for 5); forms and query strings arrive as text and are
converted, with the same bounds.
"""
