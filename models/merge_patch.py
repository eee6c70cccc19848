"""JSON merge patch (RFC 7396), applied to plain JSON-compatible data."""

from __future__ import annotations

from typing import Any


def apply_merge_patch(target: Any, patch_doc: Any) -> Any:
    """Objects merge recursively, null deletes a member, anything else replaces."""
    if not isinstance(patch_doc, dict):
        return patch_doc
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch_doc.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = apply_merge_patch(result.get(key), value)
    return result
