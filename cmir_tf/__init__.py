"""cmir-tf: music audio embeddings by multiple cross-modal contrastive learning.

Reproduces Ferraro et al., "Enriched Music Representations with Multiple Cross-modal
Contrastive Learning", IEEE SPL 28, 2021 (arXiv 2104.00437) in TensorFlow/Keras 3.

When cmir-tf is imported before TensorFlow, as every cmir-tf command does, it first applies its process
defaults (oneDNN on x86, quiet TensorFlow logs; see `cmir_tf.runtime`); a program that imported TensorFlow
first keeps TensorFlow's own. Importing cmir_tf also registers its custom Keras layers.
"""

import sys

__version__ = "0.1.0"

if "tensorflow" not in sys.modules:
    from cmir_tf import runtime

    runtime.configure()  # sets environment variables TensorFlow reads when it loads, then loads it

# Registers the custom Keras layers, so that keras.saving.load_model reads `audio_encoder.keras`.
from cmir_tf.models import affine_input_conv, fused_batch_norm  # noqa: E402, F401
