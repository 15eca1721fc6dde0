"""The block-wise error norm: the fused segment reduction of small states, the per-block
means of large ones and of overlapping blocks, all equal to the definition."""

import pytest
import torch

from pyode.solver.norms import BlockRMSNorm, scaled_error


def reference(blocks, err, y0, y1, rtol, atol):
    sq = scaled_error(err, y0, y1, rtol, atol).square().reshape(-1)
    return max(sq[a:b].mean() for a, b in blocks).sqrt()


@pytest.mark.parametrize(
    ("size", "blocks"),
    [
        (30, [(0, 10), (10, 20), (20, 30)]),  # covering, fused
        (30, [(20, 30), (0, 5)]),  # gaps before, between and unsorted: fused, gaps ignored
        (30, [(3, 7), (7, 12)]),  # a gap at both ends
        (30, [(0, 20), (10, 30)]),  # overlapping: one mean per block
        (BlockRMSNorm.FUSED_MAX + 10, [(0, 100), (200, BlockRMSNorm.FUSED_MAX)]),  # large
    ],
)
def test_block_norm_is_the_largest_block_rms(size, blocks):
    gen = torch.Generator().manual_seed(size)
    err, y0, y1 = (torch.randn(size, generator=gen, dtype=torch.float64) for _ in range(3))
    norm = BlockRMSNorm(blocks)
    got = norm(err, y0, y1, 1e-3, 1e-6)
    torch.testing.assert_close(got, reference(blocks, err, y0, y1, 1e-3, 1e-6), rtol=1e-13,
                               atol=0)  # fmt: skip
    # A block whose error is made to dominate decides the norm; a gap never does.
    if (0, 5) in blocks:
        err2 = err.clone()
        err2[5:20] *= 1e6  # the gap between the blocks
        torch.testing.assert_close(norm(err2, y0, y1, 1e-3, 1e-6), got, rtol=1e-13, atol=0)


def test_block_norm_serves_states_of_several_sizes():
    """The segments are computed per state size (the same norm object may see two)."""
    norm = BlockRMSNorm([(0, 4), (4, 8)])
    for size in (8, 12):
        err, y0, y1 = torch.rand(size), torch.rand(size), torch.rand(size)
        want = reference([(0, 4), (4, 8)], err, y0, y1, 1e-2, 1e-2)
        torch.testing.assert_close(norm(err, y0, y1, 1e-2, 1e-2), want)
