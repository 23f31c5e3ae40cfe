// Generated from Migrations/ by `make migrations`.
