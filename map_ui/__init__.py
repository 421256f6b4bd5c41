"""Map builders and templates: data in, folium maps and HTML out. Never queries the store."""
