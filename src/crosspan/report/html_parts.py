"""The pieces every report section is built from: a titled section and an inline PNG figure."""

from __future__ import annotations

import base64
import html

MISSING = "Not enough data for this figure."


def image_tag(data: bytes | None, alt: str, missing: str = MISSING) -> str:
    """An ``<img>`` with the PNG inline (base64), or a muted sentence when there is no figure."""
    if data is None:
        return f'<p class="muted">{html.escape(missing)}</p>'
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{base64.b64encode(data).decode()}">'


def figures_img(data: bytes | None, alt: str, missing: str = MISSING) -> str:
    """:func:`image_tag` inside a ``<figure>``."""
    return f"<figure>{image_tag(data, alt, missing)}</figure>"


def section(anchor: str, title: str, what: str, body: str) -> str:
    """A report section: heading, a "What this shows" line (HTML allowed) and the body."""
    return (f'<section id="{anchor}"><h2>{html.escape(title)}</h2><p class="what"><b>What this shows:</b> '
            f"{what}</p>{body}</section>")
