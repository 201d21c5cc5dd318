"""The catalog's SQL, shipped as package data: views/*.sql and queries/*.sql."""
