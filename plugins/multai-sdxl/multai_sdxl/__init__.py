"""MultAI plugin: image generation and editing with diffusers text-to-image pipelines
(SDXL-Turbo, SDXL, or any AutoPipelineForText2Image folder)."""

BACKEND_NAME = "sdxl"
