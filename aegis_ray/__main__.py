"""`python -m aegis_ray` runs the `aegis` command line."""

from aegis_ray.cli import main

main()
