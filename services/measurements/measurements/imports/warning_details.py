"""An import's warnings with their codes: `{code, params, message}` each, beside the English `warnings` texts.

The reader's come from the analysis service's `/parse` (`warning_details`: its ReaderWarningCode, the figures, the
English text); the result's flags that an importing lab must see at once (`athlete_mismatch:<field>`,
`insufficient`) carry the flag's code. A warning stored before the codes existed, or a reader's text without one,
is `reader_note` with the text as its only param: a client shows the text as it came.
"""
from __future__ import annotations

READER_NOTE = "reader_note"


def _note(text: str) -> dict:
    return {"code": READER_NOTE, "params": {"text": str(text)}, "message": str(text)}


def reader_warnings(parsed: dict) -> list[dict]:
    """The /parse answer's warnings, each with its code (a text the analysis sent without one: reader_note)."""
    texts = [str(w) for w in parsed.get("warnings") or []]
    sent = [d for d in parsed.get("warning_details") or [] if isinstance(d, dict) and d.get("code")]
    if [str(d.get("message")) for d in sent] != texts:
        return [_note(t) for t in texts]  # an analysis service that does not send codes (yet)
    return [{"code": str(d["code"]), "params": dict(d.get("params") or {}), "message": str(d["message"])}
            for d in sent]


def of(imp) -> list[dict]:
    """The import's warnings with codes, one per `warnings` text (older rows: each text as reader_note)."""
    texts = list(imp.warnings or [])
    stored = list(imp.warning_details or [])
    if [d.get("message") for d in stored] == texts:
        return stored
    return [_note(t) for t in texts]
