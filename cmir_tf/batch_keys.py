"""Names of the training batch's keys for the intra-modal views, shared by the reader (which adds them) and the
models (which read them)."""

PARTNER_KINDS = ("playlist", "artist", "genre")  # songs sharing a playlist, an artist or a genre code
VIEWS = ("self", *PARTNER_KINDS)  # what a reader can add to a batch


def view_key(view: str) -> str:
    """Batch key of a view's (B, 256, 48) mel: `self_view_mel` or `<kind>_positive_mel`."""
    return "self_view_mel" if view == "self" else f"{view}_positive_mel"


def mask_key(view: str) -> str | None:
    """Batch key of a view's (B,) 0/1 mask (songs with a partner of that kind); None for `self` (all have one)."""
    return None if view == "self" else f"has_{view}_positive"
