"""Server-side QR codes (segno): an inline SVG, so the card page needs no script or image request."""

import segno


def qr_svg(data: str, *, scale: int = 6) -> str:
    """An <svg> element for `data`, error correction M (survives a scratched phone screen), with a
    title for screen readers. Dark modules are plain black on white: every camera decodes that."""
    qr = segno.make(data, error="m", micro=False)
    # omitsize: a viewBox instead of fixed width/height, so CSS scales it to the screen.
    return qr.svg_inline(
        scale=scale, border=2, dark="#000", light="#fff", title="Member card QR code", omitsize=True
    )
