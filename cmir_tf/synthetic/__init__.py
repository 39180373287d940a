"""The embedded demo corpus: Melon, GTZAN and MTG-Jamendo formats with planted structure.

`cmir-corpus --output_dir=DIR` (`python -m cmir_tf corpus`) writes it (what `make demo` and `make ablation` use);
`cmir_tf.synthetic.corpus.generate` is the same in Python. Modules: `corpus` (CLI, atomic writing), `melon` (songs,
genres, playlists), `tags` (playlist tags and titles), `downstream` (GTZAN and MTG-Jamendo), `jobs` (render jobs
-> files), `synth` (audio from recipes).
"""
