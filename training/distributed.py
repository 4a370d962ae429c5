"""Several training processes on one run (``torchrun``): DistributedDataParallel over NCCL
on GPUs or gloo on CPUs.

Every process draws the same global batch (same seed, same permutation, same noise) and
trains on its own contiguous share of its rows; DistributedDataParallel averages the
gradients, so one step sees the whole global batch as a single process would.  What still
differs from one process: each process normalises its generator's BatchNorm layers with the
statistics of its own rows (no synchronised BatchNorm), the minibatch-std feature is
computed over each process's rows, and the dropout masks of the discriminator are drawn per
process.  Rank 0 alone monitors and writes the checkpoint, history and training state.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch

from .device import pick_device


@dataclass
class Processes:
    """Where this process stands: its rank among ``world`` processes and its device."""

    device: torch.device
    rank: int = 0
    world: int = 1
    owns_group: bool = False  # this run started the process group (and ends it)

    @property
    def active(self) -> bool:
        return self.world > 1

    @property
    def main(self) -> bool:
        return self.rank == 0

    def shard(self, *tensors):
        """This process's contiguous share of each global-batch tensor (None passes through)."""
        if not self.active:
            return tensors
        return tuple(None if t is None else torch.tensor_split(t, self.world)[self.rank] for t in tensors)

    def steps(self, n: int, batch: int) -> int:
        """Steps per epoch: a last, partial global batch too small to give every process two
        rows (BatchNorm needs two) is left out when several processes share the batch."""
        full, tail = divmod(n, batch)
        if not self.active:
            return full + (tail > 0)
        return full + (tail >= 2 * self.world)

    def wrap(self, module: torch.nn.Module) -> torch.nn.Module:
        """The module as DistributedDataParallel (gradients averaged over the processes)."""
        if not self.active:
            return module
        from torch.nn.parallel import DistributedDataParallel

        ids = [self.device.index] if self.device.type == "cuda" else None
        return DistributedDataParallel(module, device_ids=ids)  # buffers (BatchNorm) follow rank 0

    def any(self, flag: bool) -> bool:
        """True on every process when it is true on any (a stop asked for on rank 0 stops all)."""
        if not self.active:
            return flag
        import torch.distributed as dist

        t = torch.tensor([1.0 if flag else 0.0], device=self.device)
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return bool(t.item() > 0)

    def mean(self, tensor: torch.Tensor) -> torch.Tensor:
        """The element-wise mean of ``tensor`` over the processes (once per epoch: the losses)."""
        if not self.active:
            return tensor
        import torch.distributed as dist

        out = tensor.clone()
        dist.all_reduce(out)
        return out / self.world

    def barrier(self) -> None:
        if self.active:
            import torch.distributed as dist

            dist.barrier()

    def close(self) -> None:
        if self.owns_group:
            import torch.distributed as dist

            dist.destroy_process_group()
            self.owns_group = False


def from_environment(device_name: str) -> Processes:
    """One process (no ``WORLD_SIZE`` above 1), or this process's place in a torchrun group:
    the group is joined here (NCCL for CUDA, gloo for the CPU), each process on GPU
    ``LOCAL_RANK`` of its machine."""
    world = int(os.environ.get("WORLD_SIZE", "1") or 1)
    device = pick_device(device_name)
    if world <= 1:
        return Processes(device)
    import torch.distributed as dist

    local = int(os.environ.get("LOCAL_RANK", "0") or 0)
    if device.type == "cuda":
        if local >= torch.cuda.device_count():
            raise RuntimeError(f"LOCAL_RANK {local}: this machine has {torch.cuda.device_count()} GPU(s); start "
                               "at most that many processes per machine (--nproc_per_node)")
        device = torch.device("cuda", local)
        torch.cuda.set_device(device)
    owns = False
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        owns = True
    return Processes(device, dist.get_rank(), dist.get_world_size(), owns)
