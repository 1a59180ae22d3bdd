"""The I/O edge: audio files and streams, corpora (folders and manifests), the model file.

Everything here may meet hostile input, and every problem becomes one
:class:`wordrec.errors.WordrecError` whose message names the file.
"""
