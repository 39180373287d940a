"""cmir-tf: music audio embeddings by multiple cross-modal contrastive learning.

Reproduces Ferraro et al., "Enriched Music Representations with Multiple Cross-modal
Contrastive Learning", IEEE SPL 28, 2021 (arXiv 2104.00437) in TensorFlow/Keras 3.
"""

__version__ = "0.1.0"
