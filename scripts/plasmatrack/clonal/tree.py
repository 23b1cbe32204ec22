"""Clone trees under the sum rule.

A tree is a parent for every cluster (or none: a child of the normal root, whose prevalence is 1).
It satisfies the sum rule when, at every informative timepoint, the prevalences of a node's
children add up to no more than the node's own prevalence (a child never exceeds its parent,
siblings share it). Prevalences are estimates, so the rule is tested with a tolerance at each
timepoint t:

    sum_children mean_c(t) - mean_p(t) <= max(abs_tol, z * sqrt(sum_children sd_c(t)^2 + sd_p(t)^2))

(z = 1.96; ``sd`` the posterior standard deviation of the cluster's CCF; ``abs_tol`` = 0.02 by
default, about the CCF grid's resolution).

Search: clusters are taken in decreasing mean prevalence; each may hang from the root or from an
earlier cluster whose capacity, at every timepoint, still holds it. Depth-first search enumerates
every valid tree (up to ``max_nodes`` search steps) and keeps the one with the smallest total gap
sum_edges sum_t (mean_p(t) - mean_c(t)): each clone under the smallest clone that can hold it,
the most nested explanation. If no tree satisfies the rule, the fallback is a greedy tree that
attaches each cluster where it adds the least excess, and the output says so, with the largest
excess and where it occurs."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

Z = 1.959964


@dataclass
class TreeResult:
    parents: list[int | None]  # parent cluster index per cluster (None = root)
    valid: bool
    n_valid_trees: int  # valid trees found (a lower bound if the search was capped)
    search_capped: bool
    max_excess: float  # largest sum-rule excess beyond tolerance (0 when valid)
    note: str
    node_ok: list[bool]  # per cluster: its children fit within it at every timepoint


def _excess(child_mean_sum, child_var_sum, parent_mean, parent_var, abs_tol) -> np.ndarray:
    allowed = np.maximum(abs_tol, Z * np.sqrt(child_var_sum + parent_var))
    return np.maximum(child_mean_sum - parent_mean - allowed, 0.0)


def build_tree(mean: np.ndarray, sd: np.ndarray, informative: np.ndarray | None = None,
               abs_tol: float = 0.02, max_nodes: int = 200_000,
               sample_names: list[str] | None = None) -> TreeResult:
    """Find a clone tree for K clusters with prevalence ``mean`` and ``sd`` of shape (K, D)."""
    mean = np.asarray(mean, dtype=float)
    sd = np.asarray(sd, dtype=float)
    K, D = mean.shape
    cols = np.ones(D, dtype=bool) if informative is None else np.asarray(informative, bool)
    if K == 0:
        return TreeResult([], True, 1, False, 0.0, "no clusters", [])
    if not cols.any():
        return TreeResult([None] * K, False, 0, False, float("nan"),
                          "no informative timepoint (tumour fraction ~0 everywhere): "
                          "no tree can be tested; all clusters shown under the root", [True] * K)
    mu = mean[:, cols]
    var = sd[:, cols] ** 2
    order = np.argsort(-mu.mean(axis=1), kind="stable")
    # Capacity bookkeeping: node K is the normal root (prevalence 1, no uncertainty).
    sum_mean = np.zeros((K + 1, mu.shape[1]))
    sum_var = np.zeros((K + 1, mu.shape[1]))
    node_mean = np.vstack([mu, np.ones((1, mu.shape[1]))])
    node_var = np.vstack([var, np.zeros((1, mu.shape[1]))])
    parents = [-1] * K
    best = {"cost": np.inf, "parents": None}
    state = {"nodes": 0, "valid": 0, "capped": False}

    def fits(p: int, c: int) -> bool:
        exc = _excess(sum_mean[p] + mu[c], sum_var[p] + var[c], node_mean[p], node_var[p], abs_tol)
        return not exc.any()

    def search(pos: int, cost: float) -> None:
        if state["nodes"] >= max_nodes:
            state["capped"] = True
            return
        state["nodes"] += 1
        if pos == K:
            state["valid"] += 1
            if cost < best["cost"] - 1e-12:
                best["cost"], best["parents"] = cost, list(parents)
            return
        c = order[pos]
        for p in [K] + [int(q) for q in order[:pos]]:
            if not fits(p, c):
                continue
            gap = float((node_mean[p] - mu[c]).sum())
            sum_mean[p] += mu[c]
            sum_var[p] += var[c]
            parents[c] = p
            search(pos + 1, cost + gap)
            sum_mean[p] -= mu[c]
            sum_var[p] -= var[c]
            parents[c] = -1

    search(0, 0.0)
    if best["parents"] is not None:
        chosen = [None if p == K else int(p) for p in best["parents"]]
        n_valid = state["valid"]
        note = (f"sum rule holds at every timepoint; {n_valid}"
                f"{'+' if state['capped'] else ''} valid tree(s), the most nested shown")
        return TreeResult(chosen, True, n_valid, state["capped"], 0.0, note, [True] * K)
    return _greedy_fallback(mu, var, order, abs_tol, state["capped"], cols, sample_names)


def _greedy_fallback(mu, var, order, abs_tol, capped, cols, sample_names) -> TreeResult:
    K, T = mu.shape
    sum_mean = np.zeros((K + 1, T))
    sum_var = np.zeros((K + 1, T))
    node_mean = np.vstack([mu, np.ones((1, T))])
    node_var = np.vstack([var, np.zeros((1, T))])
    parents: list[int | None] = [None] * K
    for pos, c in enumerate(order):
        options = []
        for p in [K] + [int(q) for q in order[:pos]]:
            exc = _excess(sum_mean[p] + mu[c], sum_var[p] + var[c], node_mean[p], node_var[p],
                          abs_tol).sum()
            gap = float((node_mean[p] - mu[c]).sum())
            options.append((exc, gap, p))
        exc, _, p = min(options, key=lambda o: (o[0], o[1]))
        sum_mean[p] += mu[c]
        sum_var[p] += var[c]
        parents[c] = None if p == K else p
    node_ok = []
    worst = (0.0, None, None)
    names = [n for n, keep in zip(sample_names, cols) if keep] if sample_names else None
    for p in range(K + 1):
        exc = _excess(sum_mean[p], sum_var[p], node_mean[p], node_var[p], abs_tol)
        if p < K:
            node_ok.append(not exc.any())
        if exc.max() > worst[0]:
            t = int(exc.argmax())
            worst = (float(exc.max()), p, names[t] if names else t)
    who = "the root (clusters' prevalences add up to more than 1)" if worst[1] == K else \
        f"cluster {worst[1]}"
    note = ("no tree satisfies the sum rule at every timepoint"
            + (" (search capped)" if capped else "")
            + f"; greedy fallback shown: children exceed {who} by {worst[0]:.3f} beyond tolerance"
            + f" at sample {worst[2]}")
    return TreeResult(parents, False, 0, capped, worst[0], note, node_ok)
