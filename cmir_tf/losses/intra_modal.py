"""Intra-modal terms: symmetric NT-Xent between a song's audio embedding and the audio embedding of a positive.

Each term is `nt_xent(audio(anchor crops), audio(positive crops), temperature, mask)`: for N anchors, row i's
positive is its own positive, and the other 2N - 2 audio embeddings of the batch (of every replica) are its
negatives, with the temperature, the symmetric mean and the masking of the cross-modal terms (`nt_xent.py`):
anchors without a positive of the term's kind are neither anchors nor negatives, as songs without a CF
vector are in the CF terms. The positive of each term (Meehan & Pauwels' PlaylistContrastive; Alonso-Jiménez
et al., ICASSP 2023, for playlists):

  self               another random 256-frame crop of the same song (SimCLR's two views; no mask)
  playlist_positive  a song that shares a prepared (training) playlist with the anchor
  artist_positive    a song of the same artist (Melon's `artist_id_basket`)
  genre_positive     a song that shares a genre code

Positives come from the reader's views (`cmir_tf.data.partners`): partners of the same split only. A
partner may also sit in the batch as another anchor (or two anchors may share a partner); such duplicates
count as negatives, as in SimCLR's batch-level sampling.
"""

from __future__ import annotations

# Loss term -> the reader view (`cmir_tf.batch_keys.VIEWS`) that holds its positive.
TERM_VIEWS = {
    "self": "self",
    "playlist_positive": "playlist",
    "artist_positive": "artist",
    "genre_positive": "genre",
}


def views_of(terms: tuple[str, ...]) -> tuple[str, ...]:
    """The reader views a tuple of loss terms needs, in term order (empty for the paper's variants)."""
    return tuple(TERM_VIEWS[t] for t in terms if t in TERM_VIEWS)
