"""Operations: one module per operation, all behind batchops.operations.base.Operation."""
