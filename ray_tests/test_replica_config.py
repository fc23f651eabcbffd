"""What each replica's engine is configured with."""

from __future__ import annotations

from multai_core.config import Config, MemoryConfig
from multai_core.ray_serve.deploy import RayOptions, replica_config


def test_a_replica_s_models_use_the_cpus_ray_reserved_for_it() -> None:
    assert replica_config(Config(), RayOptions(replica_cpus=4)).memory.cpu_threads == 4
    assert replica_config(Config(), RayOptions(replica_cpus=2.5)).memory.cpu_threads == 2
    assert replica_config(Config(), RayOptions(replica_cpus=0.5)).memory.cpu_threads == 1


def test_unless_the_operator_set_the_threads() -> None:
    config = Config(memory=MemoryConfig(cpu_threads=8))
    assert replica_config(config, RayOptions(replica_cpus=2)) is config
