"""MultAI plugin: speech to text (transcriptions and translations) with faster-whisper."""

BACKEND_NAME = "whisper"
__version__ = "0.1.0"
