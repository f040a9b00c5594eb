"""Ray actors: thin shells that put engine objects (`aegis_ray`) onto a Ray cluster."""
