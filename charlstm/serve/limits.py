"""Caps for a shared server: the largest model, the longest training and the largest corpus anyone may ask for.

Each cap comes from an environment variable (CHARLSTM_MAX_UNITS ...) or, taking precedence,
from an overrides mapping (the app passes its st.secrets). The library never reads
st.secrets itself: callers hand it plain values.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from charlstm.insight.labels import MAX_REGEX
from charlstm.runs import bounded
from charlstm.text.corpus import DEFAULT_MAX_BYTES


@dataclass(frozen=True)
class Limits:
    max_layers: int = 3
    max_units: int = 512
    max_embedding: int = 256
    max_seq_len: int = 256
    max_batch_size: int = 256
    # the process's estimated peak while training (estimate_training_mb): what keeps a shared
    # server's largest training below 1.5 GB, whatever mix of batch, length, layers and units
    max_training_mb: int = 1500
    max_epochs: int = 100  # fit.MAX_EPOCHS: the "fit to my corpus" preset asks for up to 100 on a small text
    max_corpus_mb: float = DEFAULT_MAX_BYTES / 1e6  # uploads above this are refused
    # what a visitor's pattern and bundle may cost the server process before anything runs or is parsed
    max_pattern: int = MAX_REGEX  # characters of a visitor's own regular expression (Units; run by RE2)
    max_bundle_mb: float = 200  # a bundle upload, as sent
    max_bundle_file_mb: float = 200  # any one file inside a bundle, uncompressed: as its zip declares and as inflated
    max_bundle_unpacked_mb: float = 400  # all of a bundle's files together, uncompressed, as declared
    max_bundle_entries: int = bounded.MAX_ZIP_ENTRIES  # files in a bundle's zip; a bundle holds 7 at most
    max_json_kb: int = bounded.MAX_JSON_BYTES // 1000  # a bundle's meta.json, config.json, history.json each
    max_json_depth: int = bounded.MAX_JSON_DEPTH  # nesting of [ and { in those (Python's json has no limit)
    # what one visitor's typing asks of the server per click: Streamlit cuts to max_chars only what the browser
    # sends, not a text kept in state (a preset, a cap lowered meanwhile), so each page cuts to these itself
    max_gates_text: int = 300  # Gates: characters traced (a readable heatmap)
    max_units_text: int = 300  # Units: the span search's and the surprise strip's text; a span lies inside it
    max_teach_text: int = 200  # Teach: a lesson's sentence, the clamp's text, each text of a minimal pair
    max_attribution_text: int = 300  # Insight: the text an attribution reads (a backward pass per path step)
    max_ig_steps: int = 64  # Insight: integrated gradients' steps, each a forward and backward pass (2 x 32 default)
    max_components_text: int = 3_000  # Insight: characters factorised into components and mapped
    max_compare_text: int = 2_000  # Insight: characters two runs read side by side
    max_prime: int = 2_000  # Generate: the priming text
    max_generate_length: int = 10_000  # Generate: characters written per click; at most sampling.MAX_LENGTH

    @property
    def max_corpus_bytes(self) -> int:
        return int(self.max_corpus_mb * 1_000_000)

    def problems(self, config, corpus_bytes: int | None = None) -> list[str]:
        """Plain-language reasons why this server refuses a training, empty when it accepts it."""
        out = []
        for field, cap, what in (("layers", self.max_layers, "layers"), ("units", self.max_units, "units per layer"),
                                 ("embedding", self.max_embedding, "embedding size"),
                                 ("seq_len", self.max_seq_len, "sequence length"),
                                 ("batch_size", self.max_batch_size, "batch size"),
                                 ("epochs", self.max_epochs, "epochs")):
            value = getattr(config, field)
            if value > cap:
                out.append(f"{what} is {value}; this server allows at most {cap}")
        need = estimate_training_mb(config)
        if need > self.max_training_mb:
            out.append(f"training this model would take about {need:,} MB of memory (batch size × sequence length "
                       f"× layers × units); this server allows at most {self.max_training_mb:,} MB")
        if corpus_bytes is not None and corpus_bytes > self.max_corpus_bytes:
            out.append(f"the corpus is {corpus_bytes / 1e6:.1f} MB; "
                       f"this server allows at most {self.max_corpus_mb:g} MB")
        return out

    def describe(self) -> str:
        return (f"at most {self.max_layers} layers of {self.max_units} units, {self.max_epochs} epochs, "
                f"sequence length {self.max_seq_len}, batch size {self.max_batch_size}, "
                f"about {self.max_training_mb:,} MB while training, "
                f"embedding {self.max_embedding}, corpus {self.max_corpus_mb:g} MB")


def estimate_training_mb(config) -> int:
    """Peak resident memory of a process training this config, in MB.

    Fitted to peaks measured on the built-in corpus (TensorFlow 2.21, CPU): 2 x 128 at 128 x 32
    per step: about 800 MB; 3 x 512 at 64 x 128: 1,462 MB; 3 x 512 at 128 x 128: 2,179 MB. What
    grows is what backpropagation through time keeps: about 57 bytes per unit per character
    of a batch, on top of about 745 MB for TensorFlow, the corpus and the app.
    """
    work = config.batch_size * config.seq_len * config.layers * config.units
    return int(745 + 57e-6 * work)


def estimate_run_bytes(config, vocab_size: int) -> int:
    """Disk a stored run of this config takes: weights.npz (4 bytes a parameter), model.keras with Adam's two
    moments (12), history, probes and samples (about 200 kB). The 2 x 256 demo, when it shipped model.keras
    without Adam's moments: 7.4 MB, estimated 14 with them."""
    e, u, v = config.embedding, config.units, vocab_size
    params = v * e + sum(4 * u * ((e if i == 0 else u) + u + 1) for i in range(config.layers)) + (u + 1) * v
    return 16 * params + 200_000


FIELDS = tuple(f.name for f in dataclasses.fields(Limits))


def clip(text: object, cap: int) -> str:
    """A visitor's text, at most cap characters: what the server works on, whatever the browser sent."""
    return ("" if text is None else str(text))[:cap]


def cut_note(given: int, cap: int) -> str | None:
    """The sentence a visitor reads when their text of `given` characters was cut to this server's cap; else None."""
    if given <= cap:
        return None
    return f"Only the first {cap:,} of these {given:,} characters are read: this server's limit."
