"""Chinese retrieval core: text normalisation, embeddings, FAISS + BM25 hybrid search, intents.

Knows nothing of platforms or databases: arrays and dataclasses in, arrays and dataclasses out.
"""
