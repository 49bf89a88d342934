"""The only package that talks to object stores: aiobotocore, and the lean signed-HTTP client for hot calls."""
