"""Web tracking (E3): the snippet, its collect/identify endpoints, the pixel, tracked redirects."""
