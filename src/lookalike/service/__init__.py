"""Web page, REST API and the vector-only index service."""
