"""State size from shapes equals the bytes of a real state; the capacity search is the boundary."""

import jax
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from clifer_jax import gdm, gwr
from clifer_jax.gwr.footprint import tree_bytes


@pytest.mark.parametrize("context", [0, 2])
def test_state_bytes_equals_real_state(context):
    cfg = gwr.episodic_config(12, 40, context=context)
    real = sum(a.nbytes for a in jax.tree.leaves(gwr.empty(cfg)))
    assert gwr.state_bytes(cfg) == real
    assert gwr.state_bytes(cfg, networks=3) == 3 * real
    # Dominated by the three N×N arrays (bool + 2 × int32).
    assert gwr.state_bytes(cfg) >= 9 * 40 * 40


def test_gdm_state_bytes_is_both_memories():
    cfg = gdm.GDMConfig(dim=10, capacity=30)
    s = gdm.init_unchecked(cfg, gdm.GDMParams().cast(cfg.dtype), np.zeros((4, 10), np.float32),
                           np.zeros(4, np.int32), np.ones(4, bool))
    assert gdm.state_bytes(cfg, subjects=2) == 2 * tree_bytes(s)


@settings(max_examples=15, deadline=None)
@given(budget=st.integers(min_value=1, max_value=50_000_000), networks=st.integers(1, 8))
def test_largest_capacity_is_the_boundary(budget, networks):
    cfg = gwr.episodic_config(50, 2)
    n = gwr.largest_capacity(cfg, budget, networks)
    size = lambda c: gwr.state_bytes(cfg.replace(capacity=c, max_nodes=c), networks)  # noqa: E731
    if n == 0:
        assert size(2) > budget
    else:
        assert size(n) <= budget < size(n + 1)


def test_largest_capacity_counts_copies_and_rejects_bad_counts():
    cfg = gwr.episodic_config(50, 2)
    one, two = gwr.largest_capacity(cfg, 1 << 30), gwr.largest_capacity(cfg, 1 << 30, copies=2)
    assert two < one and 2 * gwr.state_bytes(cfg.replace(capacity=two, max_nodes=two)) <= 1 << 30
    with pytest.raises(ValueError, match=">= 1"):
        gwr.largest_capacity(cfg, 1 << 30, networks=0)
