"""torch never gets more CPU threads than the process may run on."""

from __future__ import annotations

import torch

from pyode.threads import available_cpus, set_torch_threads


def test_thread_request_is_capped_at_available_cpus() -> None:
    before = torch.get_num_threads()
    try:
        assert set_torch_threads(10_000) == available_cpus()
        assert torch.get_num_threads() == available_cpus()
        assert set_torch_threads(1) == 1
        assert torch.get_num_threads() == 1
        assert set_torch_threads(0) == 1
    finally:
        torch.set_num_threads(before)
