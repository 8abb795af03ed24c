#!/bin/bash
# The GPU figures of docs/gpu.md in one go, on a lent machine with a GPU and no TensorFlow (Keras on JAX and on
# PyTorch): whether TensorFlow is there at all, then one epoch of the default config on each backend with the
# cuDNN kernel's use read from the backend, then bigger batches and the shipped model's recipe on JAX.
#   OUT=some/folder bash bench/gpu/h200.sh
# Keras is not in that machine's image: its wheels travel in .whl (keras, namex, optree; the rest is there):
#   pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#     --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 -d .whl keras==3.15.1 namex optree
# Every run's JSON and log are tarred into runs.tgz, so that no more than eight files come back.
set -u
if ls .whl/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    && export PYTHONPATH=/tmp/site || exit 1
fi
OUT=${OUT:-bench/gpu/out}; mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv >"$OUT/smi.txt" 2>&1
python3 -c "import tensorflow as tf; print(tf.__version__, tf.config.list_physical_devices('GPU'))" \
  >"$OUT/tensorflow.txt" 2>&1 || echo "no TensorFlow in this machine's python3" >>"$OUT/tensorflow.txt"
run() {  # name backend changes
  KERAS_BACKEND=$2 timeout 170 python3 bench/gpu_bench.py --legs gpu --budget-s 45 --grace-s 100 \
    --changes "$3" --out "$OUT/$1.json" >"$OUT/$1.log" 2>&1 || echo "$1: exit $?" >>"$OUT/failed.txt"
  grep -h '"steady_chars_per_s"\|"failed"\|rnn' "$OUT/$1.json" | head -8
}
run jax-default jax '{}'
run torch-default torch '{}'
run jax-batch1024 jax '{"batch_size": 1024}'
run jax-demo jax '{"units": 256, "embedding": 64, "seq_len": 64, "batch_size": 64, "dropout": 0.3, "learning_rate": 0.003}'
run torch-demo torch '{"units": 256, "embedding": 64, "seq_len": 64, "batch_size": 64, "dropout": 0.3, "learning_rate": 0.003}'
tar -C "$OUT" -czf "$OUT/runs.tgz" $(cd "$OUT" && ls *.json *.log) && (cd "$OUT" && rm -f *.json *.log)
