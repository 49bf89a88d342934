"""Wire dialects: the HTTP-facing translation between request/response bodies and the domain model."""
