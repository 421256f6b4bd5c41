"""FastAPI application: JSON API and pages (composition root)."""
