"""One router per resource: the page, photo endpoints, the gallery, status."""
