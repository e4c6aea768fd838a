# src/core + src/stream: upstream groups for the stream proxy.
