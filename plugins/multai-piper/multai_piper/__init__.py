"""MultAI backend ``piper``: text to speech with Piper voices (ONNX, through piper-tts).

Importing this package is cheap: piper and onnxruntime are imported only when a voice loads.
"""

BACKEND_NAME = "piper"
__version__ = "0.1.0"
