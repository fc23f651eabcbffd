"""MultAI backend ``bark``: text to speech with Bark through transformers (safetensors only).

Importing this package is cheap: torch and transformers are imported only when a model loads.
"""

BACKEND_NAME = "bark"
