"""Every insight view's numbers as a table: one row per character, with its position and the character itself.

What the pages offer as CSV downloads and `python -m charlstm trace --csv` writes; read_csv reads one back
with every character as it was (a digit stays text, a newline stays a newline).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from charlstm.model.lstm_np import GATES


def _base(text: str) -> dict:
    return {"position": np.arange(len(text)), "char": list(text)}


def trace_table(tr, layers: tuple[int, ...] | None = None, quantities: tuple[str, ...] = GATES) -> pd.DataFrame:
    """A gate trace: one column per layer, quantity and unit, named L1_forget_u17 (layers counted from 1)."""
    cols = _base(tr.text)
    for k in range(len(tr.layers)) if layers is None else layers:
        for q in quantities:
            values = np.asarray(tr.layers[k][q])  # (T, units)
            for u in range(values.shape[1]):
                cols[f"L{k + 1}_{q}_u{u}"] = values[:, u]
    return pd.DataFrame(cols)


def attribution_table(a) -> pd.DataFrame:
    """An attribution.Attribution: each character's score, and whether the model read it for this target."""
    read = np.zeros(len(a.text), dtype=bool)
    read[a.start:a.position + 1] = True
    return pd.DataFrame({**_base(a.text), "read": read, "attribution": a.scores})


def components_table(c, projection=None, label: tuple[str, np.ndarray] | None = None) -> pd.DataFrame:
    """A components.Components: one column per component's strength; the map's x and y and a label when given."""
    cols = _base(c.text)
    for comp in c.components:
        cols[f"component_{comp.index + 1}"] = comp.strengths
    if projection is not None:
        cols["map_x"], cols["map_y"] = projection.xy[:, 0], projection.xy[:, 1]
    if label is not None:
        cols[label[0]] = label[1]
    return pd.DataFrame(cols)


def compare_table(cmp, name_a: str = "A", name_b: str = "B") -> pd.DataFrame:
    """A compare.Comparison: each run's loss in nats at every character, and A's minus B's."""
    return pd.DataFrame({**_base(cmp.text), f"loss_{name_a}": cmp.loss_a, f"loss_{name_b}": cmp.loss_b,
                         "difference": cmp.diff})


def matches_table(cmp) -> pd.DataFrame:
    """A compare.Comparison's unit matches: one row per unit of A (layers counted from 1)."""
    return pd.DataFrame([{"layer_a": m.layer_a + 1, "unit_a": m.unit_a, "layer_b": m.layer_b + 1, "unit_b": m.unit_b,
                          "r": m.r, "mutual": m.mutual} for m in cmp.matches])


def surprise_table(s) -> pd.DataFrame:
    """A surprise.Surprise: nats per character and the model's top guesses for it."""
    cols = {**_base(s.text), "surprise_nats": s.nats}
    k = max((len(g) for g in s.guesses), default=0)
    for j in range(k):
        cols[f"guess_{j + 1}"] = [g[j][0] if j < len(g) else "" for g in s.guesses]
        cols[f"p_{j + 1}"] = [g[j][1] if j < len(g) else np.nan for g in s.guesses]
    return pd.DataFrame(cols)


def units_table(text: str, columns: dict[str, np.ndarray]) -> pd.DataFrame:
    """Any per-character values: one column per name (e.g. "L2_cell_u85", "label")."""
    return pd.DataFrame({**_base(text), **{name: np.asarray(v) for name, v in columns.items()}})


def to_csv(df: pd.DataFrame) -> bytes:
    """UTF-8 CSV, numbers to 7 significant digits (float32's precision): a 300 x 512-column trace is about 1.5 MB."""
    return df.to_csv(index=False, float_format="%.7g", na_rep="").encode("utf-8")


def read_csv(data) -> pd.DataFrame:
    """A table written by to_csv, the characters kept as written (a space, "NA", a newline)."""
    import io

    src = io.BytesIO(data) if isinstance(data, bytes) else data
    # only an empty field is missing (a number written as nan): a character is never empty, and "1" stays text
    return pd.read_csv(src, keep_default_na=False, na_values=[""], dtype={"char": str})
