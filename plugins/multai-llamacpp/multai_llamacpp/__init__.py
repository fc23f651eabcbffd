"""MultAI backend ``llamacpp``: GGUF models through llama-cpp-python.

Importing this package is cheap: ``llama_cpp`` is imported only when a model is loaded.
"""

BACKEND_NAME = "llamacpp"
