"""Pure job model: no I/O, imports nothing else from batchops but errors."""
