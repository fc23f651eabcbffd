"""MultAI plugin: chat with images (LLaVA-1.5 and other transformers image-text-to-text models)."""

BACKEND_NAME = "llava"
