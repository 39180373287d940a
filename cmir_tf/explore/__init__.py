"""`cmir-explore`: a local web page over a song index (`cmir_tf.search`): the songs on a 2-D map, coloured by
their top zero-shot genre (or a clustering), playback, nearest songs, tag and genre queries, and playlist
continuation by the paper's protocol, downloadable as `.m3u` (docs/explore.md).

    projection   the 2-D map of an index's embeddings, computed once and stored in the index folder
    explorer     what the page asks, answered over an opened index (read-only; bad requests raise `BadRequest`)
    api          the JSON API: a request's path and query string -> a response (4xx with a message when bad)
    server       the HTTP server: the page, its script and style (package data, static/), the API, audio by id
"""
