"""Prometheus metrics, one registry per app (names prefixed multai_). Labels carry model names,
priorities, kinds and devices only: never keys or content."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from multai_core.plugin_api.types import EngineStats

EngineSource = Callable[[], Iterable[tuple[str, EngineStats]]]

WAIT_BUCKETS = (0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
RUN_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.queue_depth = Gauge(
            "multai_queue_depth", "Requests waiting, per priority", ["priority"], registry=r
        )
        self.queue_wait = Histogram(
            "multai_queue_wait_seconds",
            "Time from submission to start, per priority",
            ["priority"],
            buckets=WAIT_BUCKETS,
            registry=r,
        )
        self.rejected = Counter(
            "multai_requests_rejected_total",
            "Requests refused or failed before running, by reason",
            ["reason"],
            registry=r,
        )
        self.loads = Counter("multai_model_loads_total", "Model loads", ["model"], registry=r)
        self.load_seconds = Histogram(
            "multai_model_load_seconds",
            "Time to load a model",
            ["model"],
            buckets=RUN_BUCKETS,
            registry=r,
        )
        self.unloads = Counter(
            "multai_model_unloads_total",
            "Model unloads, by reason",
            ["model", "reason"],
            registry=r,
        )
        self.inference_seconds = Histogram(
            "multai_inference_seconds",
            "Time a job ran, load excluded",
            ["model", "kind", "outcome"],
            buckets=RUN_BUCKETS,
            registry=r,
        )
        self.tokens = Counter(
            "multai_tokens_total", "Tokens processed, by type", ["model", "type"], registry=r
        )
        self.resident_bytes = Gauge(
            "multai_resident_bytes", "Estimated bytes held by loaded models", ["device"], registry=r
        )
        self.batch_lines = Counter(
            "multai_batch_lines_total",
            "Batch lines by outcome: done, failed (an error response), preempted (cut short "
            "for interactive work; it runs again), protected (started in a protected lane: its "
            "batch was starved past aging_s_priority_2, or it was preempted twice; never "
            "preempted)",
            ["outcome"],
            registry=r,
        )
        self.batch_lines_queued = Gauge(
            "multai_batch_lines_queued",
            "Batch lines waiting to run, over every batch in progress",
            registry=r,
        )
        self.batches = Gauge("multai_batches", "Batches, by status", ["status"], registry=r)
        for priority in ("0", "1", "2"):
            self.queue_depth.labels(priority).set(0)

    def watch_engines(self, source: EngineSource) -> None:
        """Report the batching engines of loaded models (slots, sequences per decode step),
        read from ``source`` at each scrape."""
        self.registry.register(_EngineCollector(source))


class _EngineCollector(Collector):
    def __init__(self, source: EngineSource) -> None:
        self._source = source

    def collect(self) -> Iterator[Metric]:
        total = GaugeMetricFamily(
            "multai_slots_total", "Parallel sequence slots of a loaded model", labels=["model"]
        )
        active = GaugeMetricFamily(
            "multai_slots_active", "Slots generating right now", labels=["model"]
        )
        steps = CounterMetricFamily(
            "multai_decode_steps", "Batched decode calls of a loaded model", labels=["model"]
        )
        sequences = CounterMetricFamily(
            "multai_decode_sequences",
            "Sequences summed over decode calls (over multai_decode_steps_total: sequences "
            "per step)",
            labels=["model"],
        )
        for model, stats in self._source():
            total.add_metric([model], stats.slots_total)
            active.add_metric([model], stats.slots_active)
            steps.add_metric([model], stats.decode_steps)
            sequences.add_metric([model], stats.decoded_sequences)
        yield from (total, active, steps, sequences)
