"""MultAI as a Ray Serve application (``pip install "multai-core[ray]"``, ``multai serve --ray``).

Two deployments:

- the ingress (:mod:`.ingress`) runs the same Litestar app as ``multai serve`` (same controllers,
  auth, errors and streaming), with one difference: its scheduler (:mod:`.relay`) does not run
  jobs but relays each to an engine replica and streams back what the replica's plugin yields;
- engine replicas (:mod:`.replica`), each a whole MultAI engine (scheduler with its priority
  queue, memory manager, installed plugins) on the CPUs and GPUs Ray gives it.

Routing (:mod:`.router`) is a Serve request router: a request goes to a replica that holds its
model, else to the one with the most free memory; the replica's own memory manager decides loads
and evictions by bytes. Nothing here is imported unless the server runs under Ray.
"""
