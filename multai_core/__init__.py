"""MultAI core: the plugin contract, the OpenAI wire format, the scheduler and the server."""

__version__ = "0.1.0"
