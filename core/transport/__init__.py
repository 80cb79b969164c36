"""Optimal transport with POT: measures, exact and entropic plans, interpolation (`plans`), and colour
transfer between images (`color`)."""
