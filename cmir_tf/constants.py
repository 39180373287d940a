"""Numbers fixed by the Melon Playlist Dataset and the paper; shared by every stage."""

SAMPLE_RATE = 16_000  # Hz, Melon's `arena_mel` and every downstream front end
FRAME_LENGTH = 512  # samples per STFT frame (32 ms)
HOP_LENGTH = 256  # samples between frames (16 ms)
N_MELS = 48  # mel bands
CHUNK_FRAMES = 256  # frames per encoder input (~4.1 s)
SEGMENT_SECONDS = 29.1  # the authors' centred downstream segment
MAX_GENRES = 10  # Tw, genre ids per song (0 = padding)
MAX_TAGS = 10  # playlist tag ids per song (its tf-idf bag, `cmir_tf.data.playlist_tags`; 0 = padding)
CF_DIM = 301  # 300 LightFM item factors followed by the item bias
FEATURES_DIM = 1024  # flattened CNN output
EMBEDDING_DIM = 128  # projection / shared contrastive space

VARIANTS = ("contr_g", "contr_cf", "contr_cf_g", "bline_g", "bline_cf", "bline_cf_g")  # the paper's six
INTRA_MODAL_VARIANTS = ("self", "pl_pos", "artist_pos", "genre_pos", "hybrid")  # docs/intra_modal.md
TAG_VARIANTS = ("contr_t", "contr_cf_g_t")  # playlist tags as a fourth modality (docs/playlist_tags.md)
ALL_VARIANTS = VARIANTS + INTRA_MODAL_VARIANTS + TAG_VARIANTS
