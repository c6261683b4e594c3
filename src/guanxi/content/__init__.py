"""Content to share and tracked content links (E4, 雷达)."""
