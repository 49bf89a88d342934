"""Helpers the tests share: builders, clients, request helpers and fakes. Test modules import from here only."""
