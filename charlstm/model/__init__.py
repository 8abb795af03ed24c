"""The network and the ways to run it: the Keras model (network.py, the only module that imports Keras at module
level), the numpy LSTM over its weights (lstm_np.py), streaming generation (sampling.py) and where training runs
(devices.py).

May import: charlstm.config, charlstm.text.
"""
