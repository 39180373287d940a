"""cmir-tf: music audio embeddings by multiple cross-modal contrastive learning.

Reproduces Ferraro et al., "Enriched Music Representations with Multiple Cross-modal
Contrastive Learning", IEEE SPL 28, 2021 (arXiv 2104.00437) in TensorFlow/Keras 3.

Importing cmir_tf, or any of its library modules, changes nothing in the process: no environment variable, log
level or filter, and TensorFlow is loaded only by the modules that compute with it. The commands' process
defaults (oneDNN on x86, quiet TensorFlow logs) are applied by the commands themselves (`cmir_tf.runtime`,
`cmir_tf.cli`). The custom Keras layers register where they are defined (`cmir_tf.models`). Errors: `cmir_tf.errors`.
"""

__version__ = "0.1.0"
