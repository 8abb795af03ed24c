"""The run store: runs on disk written atomically, cache keys, corpora by hash (store.py), bundles from strangers
checked before they are parsed (bundles.py) and the bounded readers they use (bounded.py).

May import: charlstm.config, text, model, insight.probes, and serve.limits / serve.settings for the caps a bundle
is checked against (the one place a lower layer reads the server's settings).
"""
