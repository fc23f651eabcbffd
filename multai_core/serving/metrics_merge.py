"""Prometheus metrics of several engines as one exposition: each sample labelled with the
engine it came from (``engine``), samples of one metric under one family."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from prometheus_client.core import Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector, CollectorRegistry

ENGINE_LABEL = "engine"


class MergedMetrics(Collector):
    def __init__(self, sources: Iterable[tuple[str, bytes]]) -> None:
        self._sources = list(sources)

    def collect(self) -> Iterator[Metric]:
        merged: dict[str, Metric] = {}
        for engine, text in self._sources:
            for family in text_string_to_metric_families(text.decode()):
                into = merged.get(family.name)
                if into is None:
                    into = merged[family.name] = Metric(
                        family.name, family.documentation, family.type, family.unit
                    )
                for sample in family.samples:
                    labels = {**sample.labels, ENGINE_LABEL: engine}
                    into.add_sample(sample.name, labels, sample.value, sample.timestamp)
        yield from merged.values()


def merged_registry(sources: Iterable[tuple[str, bytes]]) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(MergedMetrics(sources))
    return registry
