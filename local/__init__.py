"""The top layer's local parts: the local stack of real servers, server threads, and the demo data API."""
