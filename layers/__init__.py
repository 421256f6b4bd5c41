"""Geodata in and out: readers, CRS checks, validation, bulk load into PostGIS, export."""
