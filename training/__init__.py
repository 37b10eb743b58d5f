"""facelog.training: datasets -> model -> train -> evaluate -> export (ONNX + metadata)."""
