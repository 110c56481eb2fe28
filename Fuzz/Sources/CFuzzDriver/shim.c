// Intentionally empty: the C target only exports CFuzzDriver.h.
