"""Foundation: settings, database, errors, CRS policy. Imports no sibling package."""
