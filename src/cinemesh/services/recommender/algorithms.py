"""Collaborative models for implicit feedback, all item-to-item: a user's scores are their
(weighted) history times an item-item matrix. Pure numpy/scipy, no I/O.

- `popularity`: how many users touched each item.
- `cosine_knn`: item-kNN, cosine similarity of item columns, top-k neighbours per item.
- `ease` (Steck 2019): the closed-form shallow autoencoder with L2 weight `lam` and a zero
  diagonal. When there are fewer users than items the inverse is taken in the user space
  (Woodbury), so its cost follows min(users, items)^2 * max(users, items).
- `rp3beta` (Paudel et al. 2017): three-step random walk item -> user -> item, item
  popularity discounted by `beta`.
- `recency_weights`: how much each interaction of a user counts when scoring that user; the
  most recent ones count most (next titles look like the last ones watched).
"""

from __future__ import annotations

from typing import TypeAlias

import numpy as np
import scipy.sparse as sp
from scipy.linalg import cho_factor, cho_solve

Matrix: TypeAlias = sp.csr_matrix
BLOCK = 1024


def popularity(x: Matrix) -> np.ndarray:
    """Distinct users per item."""
    return np.asarray((x > 0).sum(axis=0)).ravel().astype(np.float32)


def top_k_rows(dense: np.ndarray, k: int, *, positive_only: bool = True) -> Matrix:
    """Keep the k largest entries of every row (only positive ones if asked) as CSR."""
    n_rows, n_cols = dense.shape
    k = min(k, n_cols)
    if k <= 0:
        return sp.csr_matrix((n_rows, n_cols), dtype=np.float32)
    part = np.argpartition(-dense, k - 1, axis=1)[:, :k]
    values = np.take_along_axis(dense, part, axis=1)
    keep = values > 0 if positive_only else np.ones_like(values, dtype=bool)
    rows = np.repeat(np.arange(n_rows), k).reshape(n_rows, k)
    return sp.csr_matrix(
        (values[keep].astype(np.float32), (rows[keep], part[keep])), shape=(n_rows, n_cols)
    )


def cosine_knn(x: Matrix, *, k: int = 100, shrink: float = 0.0) -> Matrix:
    """Item-item cosine similarity (binary columns), k neighbours per item, no self loop."""
    binary = (x > 0).astype(np.float32).tocsc()
    norms = np.sqrt(np.asarray(binary.sum(axis=0)).ravel())
    co = (binary.T @ binary).tocsr().astype(np.float32)
    co.setdiag(0)
    co.eliminate_zeros()
    co = co.tocoo()
    denom = norms[co.row] * norms[co.col] + shrink
    sims = sp.csr_matrix((co.data / np.maximum(denom, 1e-9), (co.row, co.col)), shape=co.shape)
    return _sparse_top_k(sims, k)


def _sparse_top_k(m: Matrix, k: int) -> Matrix:
    m = m.tocsr()
    rows, cols, vals = [], [], []
    for i in range(m.shape[0]):
        start, end = m.indptr[i], m.indptr[i + 1]
        if start == end:
            continue
        data, idx = m.data[start:end], m.indices[start:end]
        if len(data) > k:
            best = np.argpartition(-data, k - 1)[:k]
            data, idx = data[best], idx[best]
        rows.append(np.full(len(idx), i))
        cols.append(idx)
        vals.append(data)
    if not rows:
        return sp.csr_matrix(m.shape, dtype=np.float32)
    return sp.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
        shape=m.shape,
        dtype=np.float32,
    )


def rp3beta(x: Matrix, *, alpha: float = 1.0, beta: float = 0.5, k: int = 100) -> Matrix:
    """P(item -> user -> item) with popularity discount pop^-beta, k neighbours per item."""
    binary = (x > 0).astype(np.float32).tocsr()
    user_deg = np.asarray(binary.sum(axis=1)).ravel()
    item_deg = np.asarray(binary.sum(axis=0)).ravel()
    p_ui = sp.diags(1.0 / np.maximum(user_deg, 1)) @ binary
    p_iu = sp.diags(1.0 / np.maximum(item_deg, 1)) @ binary.T.tocsr()
    if alpha != 1.0:
        p_ui = p_ui.power(alpha)
        p_iu = p_iu.power(alpha)
    walk = (p_iu @ p_ui).tocsr()
    walk = walk @ sp.diags(np.power(np.maximum(item_deg, 1), -beta))
    walk = walk.tocsr().astype(np.float32)
    walk.setdiag(0)
    walk.eliminate_zeros()
    return _sparse_top_k(walk, k)


class EaseSolver:
    """EASE's inverse, computed once per lambda, giving rows of B or user scores on demand."""

    def __init__(self, x: Matrix, lam: float) -> None:
        self.x = x.astype(np.float64).tocsr()
        self.lam = lam
        n_users, n_items = x.shape
        self.dual = n_users < n_items
        if self.dual:
            # (lam I + X'X)^-1 = (I - X' (lam I + X X')^-1 X) / lam
            gram = (self.x @ self.x.T).toarray()
            gram[np.diag_indices_from(gram)] += lam
            self.m = cho_solve(cho_factor(gram), np.eye(n_users))
            self.dense_x = self.x.toarray().astype(np.float32)
            self.m32 = self.m.astype(np.float32)
            mx = self.m @ self.dense_x
            self.diag = (1.0 - np.asarray(self.x.multiply(mx).sum(axis=0)).ravel()) / lam
        else:
            gram = (self.x.T @ self.x).toarray()
            gram[np.diag_indices_from(gram)] += lam
            self.p = cho_solve(cho_factor(gram), np.eye(n_items))
            self.diag = np.diag(self.p).copy()

    def _p_rows(self, rows: np.ndarray) -> np.ndarray:
        if not self.dual:
            return np.asarray(self.p[rows])
        block = -(self.x[:, rows].T.astype(np.float32) @ self.m32) @ self.dense_x
        block[np.arange(len(rows)), rows] += 1.0
        return np.asarray(block / self.lam)

    def b_rows(self, rows: np.ndarray) -> np.ndarray:
        """Rows of B = I - P diag(1/diag P): what each item adds to every other item."""
        b = -self._p_rows(rows) / self.diag[None, :]
        b[np.arange(len(rows)), rows] = 0.0
        return b

    def weights(self, *, k: int) -> Matrix:
        """B with only each row's k largest positive entries (what the service serves)."""
        n = self.x.shape[1]
        parts = [
            top_k_rows(self.b_rows(np.arange(s, min(n, s + BLOCK))), k) for s in range(0, n, BLOCK)
        ]
        return sp.vstack(parts).tocsr() if parts else sp.csr_matrix((0, 0), dtype=np.float32)

    def scores(self, history: Matrix) -> np.ndarray:
        """Exact EASE scores history @ B, never forming the whole B."""
        h = history.astype(np.float64)
        if self.dual:
            hx = (h @ self.x.T) @ self.m @ self.dense_x
            hp = (h.toarray() - hx) / self.lam
        else:
            hp = h @ self.p
        return np.asarray(h.toarray() - hp / self.diag[None, :])


def ease(x: Matrix, *, lam: float, k: int) -> Matrix:
    return EaseSolver(x, lam).weights(k=k)


def recency_weights(positions_from_end: np.ndarray, *, half_life: float) -> np.ndarray:
    """0 for the latest interaction, 1 for the one before...: weight 2^(-position/half_life)."""
    if half_life <= 0:
        return np.ones_like(positions_from_end, dtype=np.float32)
    return np.power(2.0, -positions_from_end / half_life).astype(np.float32)
