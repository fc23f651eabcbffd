"""Wire request -> scheduler job -> wire response or SSE stream, one module per endpoint group."""
