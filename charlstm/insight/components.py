"""What the units form together: a layer's activations over a text factorised into a few components, and a map.

NMF on the gates (non-negative, in (0, 1)), as ecco factorises a transformer's activations; PCA on the
cell, hidden and candidate values, which have signs. Each component is a strength per character and a
weight per unit; its top units name it, and the Units page's labels say what it follows. The map is a
2-D PCA projection of the hidden states, one point per character, as LIT projects embeddings.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from charlstm.insight import labels as labels_mod

DEFAULT_K = 8
NMF_ON = ("input", "forget", "output")  # values in (0, 1): non-negative parts that add up
PCA_ON = ("cell", "hidden", "candidate")  # signed values: directions of largest variance
TOP_UNITS = 5
NMF_ITERATIONS = 400


@dataclass(frozen=True)
class Component:
    index: int  # 0-based, largest first
    strengths: np.ndarray  # (T,) how strongly it is present at each character
    loadings: np.ndarray  # (units,) its weight on each unit
    top_units: tuple[tuple[int, float], ...]  # (unit, loading), largest |loading| first
    share: float  # PCA: the fraction of the variance it explains; NMF: its fraction of the reconstruction
    label: str | None  # the Units page label its strengths follow best (by |r|), or None
    label_r: float  # that correlation


@dataclass(frozen=True)
class Components:
    text: str
    layer: int  # 0-based
    quantity: str  # a name in lstm_np.GATES
    method: str  # "nmf" or "pca"
    components: tuple[Component, ...]

    @property
    def strengths(self) -> np.ndarray:
        return np.stack([c.strengths for c in self.components], axis=1)  # (T, k)


def method_for(quantity: str) -> str:
    if quantity in NMF_ON:
        return "nmf"
    if quantity in PCA_ON:
        return "pca"
    raise ValueError(f"unknown quantity {quantity!r}; choose one of {', '.join(NMF_ON + PCA_ON)}")


def factorise(values: np.ndarray, k: int = DEFAULT_K, method: str = "pca",
              seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """values (T, units) as strengths (T, k) x loadings (k, units), components ordered largest first; and shares (k,).

    PCA centres each unit first (a component is a direction of variation); NMF factorises the values as they are.
    Each PCA component's sign is set so that its largest loading is positive.
    """
    from sklearn.decomposition import NMF, PCA  # scikit-learn: a second or two to import, so only when asked

    values = np.asarray(values, np.float64)
    T, units = values.shape
    if not 1 <= k <= min(T, units):
        raise ValueError(f"k must be 1 to {min(T, units)} for {T:,} characters and {units} units, not {k}")
    if method == "pca":
        pca = PCA(n_components=k, svd_solver="full")
        W = pca.fit_transform(values)  # (T, k)
        H = pca.components_  # (k, units), unit length
        shares = pca.explained_variance_ratio_
        signs = np.sign(H[np.arange(k), np.abs(H).argmax(axis=1)])
        return W * signs, H * signs[:, None], np.asarray(shares)
    if method != "nmf":
        raise ValueError(f"unknown method {method!r}; choose nmf or pca")
    if values.min() < 0:
        raise ValueError("NMF needs non-negative values; use PCA for the cell, hidden and candidate values")
    nmf = NMF(n_components=k, init="nndsvda", max_iter=NMF_ITERATIONS, random_state=seed)
    with warnings.catch_warnings():  # not converged in NMF_ITERATIONS: close enough to show, and bounded in time
        warnings.simplefilter("ignore")
        W = nmf.fit_transform(values)  # (T, k)
    H = nmf.components_  # (k, units)
    mass = W.sum(axis=0) * H.sum(axis=1)  # each part's share of the reconstruction's total
    order = np.argsort(-mass, kind="stable")
    return W[:, order], H[order], mass[order] / max(mass.sum(), 1e-12)


def components(tr, layer: int, quantity: str, k: int = DEFAULT_K, seed: int = 0) -> Components:
    """The k components of one layer's quantity over a trace (gates.GateTrace or find.LongTrace)."""
    if not 0 <= layer < len(tr.layers):
        raise ValueError(f"layer {layer + 1} is outside this {len(tr.layers)}-layer model")
    method = method_for(quantity)
    if quantity not in tr.layers[layer]:
        raise ValueError(f"the trace has no {quantity} values")
    W, H, shares = factorise(tr.layers[layer][quantity], k, method, seed)
    found = best_labels(W, tr.text)
    out = []
    for j in range(W.shape[1]):
        top = np.argsort(-np.abs(H[j]), kind="stable")[:TOP_UNITS]
        name, r = found[j]
        out.append(Component(index=j, strengths=W[:, j], loadings=H[j],
                             top_units=tuple((int(u), float(H[j, u])) for u in top), share=float(shares[j]),
                             label=name, label_r=r))
    return Components(text=tr.text, layer=layer, quantity=quantity, method=method, components=tuple(out))


def best_labels(strengths: np.ndarray, text: str) -> list[tuple[str | None, float]]:
    """For each column of strengths (T, k): the built-in label it correlates with most (by |r|), and r."""
    ys = {name: label.fn(text).astype(np.float64) for name, label in labels_mod.LABELS.items()}
    out = []
    for j in range(strengths.shape[1]):
        best, best_r = None, 0.0
        for name, y in ys.items():
            r = _corr(strengths[:, j], y)
            if abs(r) > abs(best_r):
                best, best_r = name, r
        out.append((best, best_r))
    return out


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a - a.mean(), b - b.mean()
    d = float(np.sqrt((a * a).sum() * (b * b).sum()))
    return float((a * b).sum() / d) if d > 1e-12 else 0.0


@dataclass(frozen=True)
class Projection:
    xy: np.ndarray  # (T, 2): each character's hidden state on the first two principal axes
    explained: tuple[float, float]  # the fraction of the variance each axis explains


def project(values: np.ndarray) -> Projection:
    """The first two principal components of values (T, units): one point per character."""
    W, _, shares = factorise(values, 2, "pca")
    return Projection(xy=W, explained=(float(shares[0]), float(shares[1])))


def contexts(text: str, before: int = 24, after: int = 4) -> list[str]:
    """Each character in its context, on one line, the character itself in brackets: the map's hover text."""
    def one(s: str) -> str:
        return s.replace("\n", "↵").replace("\t", "⇥")

    return [f"{one(text[max(0, t - before):t])}[{one(text[t])}]{one(text[t + 1:t + 1 + after])}"
            for t in range(len(text))]


__all__ = ["DEFAULT_K", "NMF_ON", "PCA_ON", "Component", "Components", "Projection", "best_labels", "components",
           "contexts", "factorise", "method_for", "project"]
