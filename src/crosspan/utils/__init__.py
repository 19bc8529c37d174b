"""Small shared helpers (atomic writes, seeding, hashing)."""
