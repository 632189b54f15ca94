"""HTTP surface: thin routers, dependencies, schemas and the error mapping."""
