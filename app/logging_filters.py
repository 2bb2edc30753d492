"""A log filter that masks secrets (tokens, passwords, JWTs) before any handler writes them."""
from __future__ import annotations

import logging
import re

_PATTERNS = [
    (re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+"), r"\1***"),
    (re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]+"), "***jwt***"),
    (re.compile(r"(?i)((?:password|passwd|token|secret|api_key)[\"']?\s*[:=]\s*[\"']?)[^\s\"'&,}]+"), r"\1***"),
]

_LITERALS: set[str] = set()  # secrets from the configuration whose shape no pattern knows (a CDS key)


def mask_literal(secret: str | None) -> None:
    """Mask this exact value wherever it appears in a log line from now on (this process)."""
    if secret and len(secret) >= 8:
        _LITERALS.add(secret)


def redact_text(text: str) -> str:
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    for secret in _LITERALS:
        if secret in text:
            text = text.replace(secret, "***")
    return text


class RedactSecrets(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:
            return True
        cleaned = redact_text(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def install_redaction() -> None:
    """Attach the filter to every root handler (idempotent)."""
    root = logging.getLogger()
    for handler in root.handlers:
        if not any(isinstance(f, RedactSecrets) for f in handler.filters):
            handler.addFilter(RedactSecrets())
