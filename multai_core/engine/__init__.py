"""The engine: which waiting request runs next (request_queue, scheduler), where models live and
how they load and leave (memory, placement, devices), the calls to the packs (packs) and the
figures it keeps (metrics). It knows packs only through multai_core.plugin_api and knows nothing
of the wire format, serving or the server."""
