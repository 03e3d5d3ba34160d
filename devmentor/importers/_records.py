"""Reading a file of records (JSON, a list, an envelope, JSON Lines) and the identifiers records carry: ISO
durations and timestamps, keyed pseudonyms, Open edX course and block keys, the quarantine's masked copy.
Shared by the xAPI and Caliper importers (devmentor/importers/_common.py builds contract rows from them)."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from datetime import datetime, timezone
from pathlib import Path

DURATION = re.compile(r"^P(?:(?P<d>\d+(?:\.\d+)?)D)?(?:T(?:(?P<h>\d+(?:\.\d+)?)H)?(?:(?P<m>\d+(?:\.\d+)?)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?$")
EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
# Open edX keys inside the many URL forms its statements use (/course/…, /courses/…/, /xblock/…, bare keys).
COURSE_KEY = re.compile(r"course-v1:[^/?#\s]+")
BLOCK_KEY = re.compile(r"block-v1:(?:course-v1:)?([^/?#\s]+)")
class StatementError(ValueError):
    def __init__(self, field: str, reason: str):
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def parse_duration(text: str, field: str = "result.duration") -> float:
    m = DURATION.match(text or "")
    if not m or text in ("P", "PT"):
        raise StatementError(field, f"not an ISO 8601 duration: {text!r}")
    return sum(float(m[k] or 0) * mult for k, mult in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)))


def seconds(value, field: str) -> float | None:
    """Seconds from a number or an ISO 8601 duration (sources use both for the same extension)."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise StatementError(field, f"not a duration: {value!r}")
    if isinstance(value, (int, float)):
        return float(value)
    return parse_duration(str(value), field)


def utc_timestamp(value, field: str = "timestamp") -> str:
    if not value:
        raise StatementError(field, "missing")
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise StatementError(field, f"not an ISO 8601 timestamp: {value!r}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc).isoformat()


def pseudonym(key: str, kind: str, value: str) -> str:
    """A keyed hash for a direct identifier (e-mail, OpenID URL, an account name that is an e-mail)."""
    return f"{kind}:" + hmac.new(key.encode(), str(value).strip().lower().encode(), hashlib.sha256).hexdigest()[:32]


def mbox_pseudonym(key: str, mbox: str) -> str:
    """The pseudonym of a mailto: address: the keyed hash of the SHA-1 xAPI defines, so the same person
    matches whether a source sent the address, its mbox_sha1sum, or (Caliper) a mailto: actor id."""
    address = str(mbox).strip().lower()
    address = address if address.startswith("mailto:") else "mailto:" + address
    return pseudonym(key, "mbox", hashlib.sha1(address.encode()).hexdigest())


def account_id(key: str, kind: str, name: str) -> str:
    """An LMS account id as the learner id; one that is an e-mail address or a person's name is hashed."""
    name = str(name)
    return pseudonym(key, kind, name) if "@" in name or " " in name.strip() else name


def course_id(value: str) -> str:
    match = COURSE_KEY.search(str(value))
    return match[0].rstrip("/") if match else str(value)


def course_in(value: str) -> str | None:
    """The Open edX course a URL or block key names (block-v1:ORG+NUMBER+RUN+type@… is in course-v1:ORG+NUMBER+RUN)."""
    match = COURSE_KEY.search(str(value))
    if match:
        return match[0].rstrip("/").split("+type@")[0]
    block = BLOCK_KEY.search(str(value))
    return "course-v1:" + block[1].split("+type@")[0] if block and "+type@" in block[1] else None


def item_id(value: str) -> str:
    match = BLOCK_KEY.search(str(value))
    return "block-v1:" + match[1] if match else str(value)


def masked(record) -> str:
    """A record as the quarantine keeps it: JSON with every e-mail address masked, at most 20,000 characters."""
    return EMAIL.sub("[email]", json.dumps(record, default=str))[:20000]


def read_records(path: Path, envelope_keys: tuple[str, ...], what: str) -> list[tuple[int, object]]:
    """(1-based position, record or StatementError) for every record of a JSON file (one record, a list, or
    an envelope holding the list under one of ``envelope_keys``) or a JSON Lines file."""
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() not in (".jsonl", ".ndjson"):
        try:
            return _records_of(json.loads(text), envelope_keys, what)
        except json.JSONDecodeError as exc:
            if not (text.lstrip().startswith("{") and "\n" in text.strip()):
                return [(0, StatementError("(file)", f"not valid JSON at line {exc.lineno}: {exc.msg}"))]
    out: list[tuple[int, object]] = []
    for i, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            try:
                out.append((i, json.loads(line)))
            except json.JSONDecodeError as exc:
                out.append((i, StatementError("(line)", f"not valid JSON: {exc.msg}")))
    return out


def _records_of(doc, envelope_keys: tuple[str, ...], what: str) -> list[tuple[int, object]]:
    envelope = isinstance(doc, dict) and any(k in doc for k in envelope_keys)
    if envelope:
        doc = next(doc[k] for k in envelope_keys if k in doc)
    elif isinstance(doc, dict):
        doc = [doc]
    if not isinstance(doc, list):
        keys = " or ".join(f'{{"{k}": [...]}}' for k in envelope_keys)
        return [(0, StatementError("(file)", f"expected {what}, a list of them or {keys}"))]
    return list(enumerate(doc, start=1))
