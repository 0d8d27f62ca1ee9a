"""What metrics.json records under ``distributed``: the number of processes, read from Accelerate's
state, and the launcher, read from the environment it sets (a faked state for the multi-process cases;
a real two-process run is checked in tests/reliability/test_ddp.py)."""
from types import SimpleNamespace

import torch
from accelerate import Accelerator
from accelerate.utils import DistributedType

from tuneforge.training.distributed import describe_processes


def test_a_plain_single_process_is_one_process_without_a_launcher():
    state = Accelerator(cpu=not torch.cuda.is_available()).state   # as the trainer makes it
    assert describe_processes(state, env={}) == {"processes": 1, "type": "NO", "backend": None, "launcher": None}


def test_torchrun_and_accelerate_launch_are_told_apart_and_the_count_is_accelerates():
    ddp = SimpleNamespace(num_processes=2, distributed_type=DistributedType.MULTI_CPU, backend="gloo")
    assert describe_processes(ddp, env={"TORCHELASTIC_RUN_ID": "x", "WORLD_SIZE": "2"}) == \
        {"processes": 2, "type": "MULTI_CPU", "backend": "gloo", "launcher": "torchrun"}
    gpus = SimpleNamespace(num_processes=4, distributed_type=DistributedType.MULTI_GPU, backend="nccl")
    # accelerate launch runs its processes through torch's elastic agent too: its own variable decides
    env = {"TORCHELASTIC_RUN_ID": "x", "ACCELERATE_MIXED_PRECISION": "bf16"}
    assert describe_processes(gpus, env=env) == {"processes": 4, "type": "MULTI_GPU", "backend": "nccl",
                                                 "launcher": "accelerate launch"}
    assert describe_processes(gpus, env={})["launcher"] == "other"
