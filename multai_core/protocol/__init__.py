"""OpenAI's wire format as msgspec Structs, one module per endpoint group."""
