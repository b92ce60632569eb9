"""The knowledge index: document schema, loaders, chunking, embeddings and the Chroma store.

`bot` reads the index through :mod:`ingest.store`; nothing here imports `bot` or `telegram`.
"""
