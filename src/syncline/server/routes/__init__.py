"""The API's routes, one module per page family."""
