"""The base floor: helpers every stage may import and that import nothing above them (atomic writes,
seeding, worker pools, errors, Dice, Gaussian blur, AMP and distributed helpers)."""
